# Die eigenen Wörter des Stationsbildschirms (Deutsch). Schlüssel und Argumente wie in
# en/screen.ftl; nur Text und { $name }, keine Auswahl. Codes, IDs und Gerätenamen bleiben.

## Header and result

operator = Bediener:
nobody = niemand angemeldet
ready = bereit
scan-badge = Ausweis scannen
scan-order = Auftrag scannen
verdict-ok = OK
verdict-error = Fehler
verdict-alert = Achtung
sound-on = Ton an
sound-off = Ton aus

## Order

no-order = kein Auftrag offen
looking-up = suche { $order }…
col-line = Pos.
col-item = Artikel
col-expected = Soll
col-done = Ist
damaged = { $count } beschädigt

## Alerts and devices

alerts = Meldungen
devices = Geräte
none = keine
none-reported = keine gemeldet
clock-off = Uhr weicht { $seconds } s ab
journal-almost-full = Journal fast voll
disk-full = Speicher voll: neue Scans werden abgelehnt, bis Platz frei ist
disk-almost-full = Speicher fast voll
commands-refused = Befehle abgelehnt: der Broker lehnt { $topic } ab
commands-downgraded = Befehle eingeschränkt: der Broker stuft { $topic } herab
broker-down = Broker { $state }: Ereignisse warten im Journal
kind-printer = Drucker
kind-scanner = Scanner
device-ready = bereit
device-offline = offline
device-cover_open = Deckel offen
device-head_open = Druckkopf offen
device-paper_out = Papier leer
device-paper_near_end = Papier fast leer
device-ribbon_out = Farbband leer
device-paused = pausiert
device-buffer_full = Puffer voll
device-error = Störung

## Footer

backlog = Rückstau:
broker = Broker:
uplink-connecting = verbindet
uplink-connected = verbunden
uplink-backoff = wartet auf neuen Versuch
uplink-disabled = nicht eingerichtet
live = live
updated = aktualisiert { $time }
connecting = verbinde…
reconnecting = verbinde neu…
no-connection = keine Verbindung
