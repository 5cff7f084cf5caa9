# Was die Station dem Packer sagt, auf Deutsch. Keys und Argumente wie in en/station.ftl;
# Codes, Auftragsnummern, SKUs, Ausweise und $kind (Ereignisart) bleiben, wie sie sind.
# Kurz halten: der Bildschirm hat 1024×600 und wird aus einem Schritt Abstand gelesen.

## Wörter

state-released = freigegeben
state-picking = in Kommissionierung
state-picked = kommissioniert
state-packing = in Verpackung
state-packed = verpackt
state-labelled = etikettiert
state-shipped = versendet
state-held = angehalten
state-cancelled = storniert
state-gone = nicht mehr hier
state-unknown = unbekannt
station-pick = Kommissionierplatz
station-pack = Packtisch
station-ship = Versandplatz
station-multi = Mehrzweckplatz
operator-packer = Packer
operator-supervisor = Vorarbeiter

## Angenommene Scans

logged-in = { $kind } { $badge } ({ $role })
logged-out = { $kind } { $badge }
looking-up = Auftrag { $order } wird gesucht
opened = { $kind } { $order } zum { $step ->
        [pick] Kommissionieren
       *[pack] Packen
    } ({ $done }/{ $total } Artikel)
at-location = Lagerplatz { $location }
tote-assigned = Auftrag { $order } kommt in { $tote }
line-cancelled = Position { $line } ({ $sku }) von Auftrag { $order } storniert
damaged-recorded = Beschädigt erfasst: { $sku }, Position { $line }; Ersatz scannen
counted = { $kind } { $sku } Position { $line } ({ $count }/{ $of })
shipped = Auftrag { $order } versendet
held-by-scan = Auftrag { $order } angehalten ({ $reason })
released = Auftrag { $order } freigegeben: { $state }
reprinting = Etikett von { $order } wird neu gedruckt
scan-damaged-item = Beschädigten Artikel scannen
scan-line-to-cancel = Artikel der zu stornierenden Position scannen
picked-short = Auftrag { $order } mit Fehlmenge kommissioniert ({ $lines ->
        [one] { $lines } Position
       *[other] { $lines } Positionen
    })
labelled = Auftrag { $order } etikettiert

## Abgelehnte Scans

bad-check-digit = Prüfziffer von { $symbology } { $code } falsch (erwartet { $expected })
bad-gs1-field = GS1-AI ({ $ai }) ungültig: { $problem }
unknown-gs1-ai = Unbekannter GS1-Datenbezeichner bei "{ $rest }"
scan-too-long = Scan zu lang: { $bytes } Bytes, höchstens { $max }
scan-noise = Störung im Scan: Steuerzeichen { $byte } an Stelle { $offset }
scan-not-utf8 = Scan ist kein gültiges UTF-8 (Stelle { $offset })
log-in-first = { $code } nicht verwendet: zuerst mit Ausweis anmelden
badge-not-listed = Ausweis { $badge } ist für diesen Platz nicht eingetragen
order-not-cached = Auftrag { $order } ist hier nicht bekannt, und kein Auftragssystem ist eingerichtet
held-put-aside = Auftrag { $order } ist angehalten ({ $reason }): beiseitelegen oder Vorarbeiter um Freigabe bitten
cancelled-do-not-ship = Auftrag { $order } wurde storniert: nicht versenden
already-shipped = Auftrag { $order } ist bereits versendet
packed-waits-for-label = Auftrag { $order } ist verpackt und wartet auf sein Etikett (CMD:REPRINT druckt es neu)
labelled-scan-tracking = Auftrag { $order } ist etikettiert: zum Versenden die Sendungsnummer scannen
wrong-station = Auftrag { $order } ist { $state }; ein { $station } kann ihn nicht bearbeiten
location-without-order = { $location }: zuerst einen Auftrag zum Kommissionieren öffnen
scan-order-first = { $code } nicht verwendet: zuerst einen Auftrag scannen
held-stop = Auftrag { $order } ist angehalten ({ $reason }): aufhören und beiseitelegen
cancelled-return-items = Auftrag { $order } wurde storniert: aufhören und Artikel zurückbringen
nothing-more-to-scan = Auftrag { $order } ist { $state }: nichts mehr zu scannen
wrong-tote = Behälter { $tote } gehört nicht zu Auftrag { $order }
wrong-item = { $code } gehört nicht zu Auftrag { $order }
not-a-product = { $code } ist kein Artikel-Barcode und steht nicht in Auftrag { $order }
line-already-cancelled = Diese Position von Auftrag { $order } ist bereits storniert
line-is-cancelled = Diese Position von Auftrag { $order } ist storniert
on-cancelled-line = { $code } gehört zu einer stornierten Position von Auftrag { $order }
over-quantity = Zu viel: Position { $line } ({ $sku }) von Auftrag { $order } hat schon { $done } von { $of }
unknown-tracking = Sendungsnummer { $tracking } gehört zu keinem Auftrag an diesem Platz
ships-at-ship-station = Auftrag { $order } wird am Versandplatz versendet; dies ist ein { $station }
held-do-not-ship = Auftrag { $order } ist angehalten: nicht versenden
not-labelled = Auftrag { $order } ist { $state }: nur etikettierte Aufträge werden versendet
command-needs-order = CMD:{ $command } braucht einen offenen Auftrag: zuerst den Auftrag scannen
unknown-command = CMD:{ $command } ist hier kein Befehl (HOLD, RELEASE, REPRINT, CANCEL-LINE, DAMAGED, SHORT, LOGOUT)
needs-supervisor = { $action ->
        [release] Die Freigabe
        [reprint] Der Nachdruck eines gedruckten Etiketts
       *[cancel-line] Das Stornieren einer Position
    } braucht einen Vorarbeiter-Ausweis: Vorarbeiter anmelden lassen
nothing-to-reprint = Auftrag { $order } ist { $state }: vor dem Verpacken gibt es kein Etikett zum Nachdrucken
no-label-printer = An diesem Platz ist kein Etikettendrucker eingerichtet
not-being-worked = Auftrag { $order } ist { $state }: nichts wird kommissioniert oder verpackt
not-being-picked = Auftrag { $order } ist { $state }, nicht in Kommissionierung
nothing-picked = Auftrag { $order }: noch nichts kommissioniert; stattdessen anhalten
not-known-here = Auftrag { $order } ist an diesem Platz nicht bekannt
cannot-become = Auftrag { $order } ist { $state }; Wechsel zu „{ $to }“ nicht möglich
already-final = Auftrag { $order } ist bereits { $state }
already-held = Auftrag { $order } ist bereits angehalten
cannot-hold = Auftrag { $order } ist { $state } und kann nicht angehalten werden
not-held = Auftrag { $order } ist { $state }, nicht angehalten

## Hinweise

packed-no-label-printer = Auftrag { $order } ist verpackt, aber hier ist kein Etikettendrucker eingerichtet
stopped-by-office = Auftrag { $order } wurde vom Büro { $state }: aufhören und beiseitelegen
stopped-by-office-why = Auftrag { $order } wurde vom Büro { $state } ({ $reason }): aufhören und beiseitelegen
not-found = Auftrag { $order } nicht gefunden: { $detail }
did-not-print = { $document ->
        [label] Etikett
       *[slip] Lieferschein
    } für Auftrag { $order } nicht gedruckt: { $reason }; nach Behebung am Drucker CMD:REPRINT scannen
clock-skew = Die Uhr der Station geht { NUMBER($seconds) } s { $direction ->
        [ahead] vor
       *[behind] nach
    } (verglichen mit { $source ->
        [order-system] dem Auftragssystem
       *[cloud] einem Cloud-Befehl
    }); NTP prüfen (Ereignisse tragen data.clock)
overdue = Auftrag { $order } ist seit über { $minutes } min { $state } ({ $level })

## Nicht gespeicherte Eingaben

not-recorded = { $why ->
        [journal-full] Journal voll: Scan NICHT gespeichert, bis Ereignisse gesendet sind
        [disk-full] Speicher voll: Scan NICHT gespeichert, bis Platz frei ist
       *[storage] Scan NICHT gespeichert ({ $detail }); nochmal scannen
    }
