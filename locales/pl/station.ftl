# Co stanowisko mówi pakowaczowi, po polsku. Klucze i argumenty jak w en/station.ftl;
# kody, numery zamówień, SKU, karty i $kind (rodzaj zdarzenia) zostają bez zmian.
# Krótko: ekran ma 1024×600 i czyta się go z kroku odległości.

## Słowa

state-released = zwolnione
state-picking = w kompletacji
state-picked = skompletowane
state-packing = w pakowaniu
state-packed = spakowane
state-labelled = oetykietowane
state-shipped = wysłane
state-held = wstrzymane
state-cancelled = anulowane
state-gone = już niedostępne
state-unknown = w nieznanym stanie
station-pick = stanowisko kompletacji
station-pack = stanowisko pakowania
station-ship = stanowisko wysyłki
station-multi = stanowisko wielozadaniowe
operator-packer = pakowacz
operator-supervisor = brygadzista

## Przyjęte skany

logged-in = { $kind } { $badge } ({ $role })
logged-out = { $kind } { $badge }
looking-up = Szukam zamówienia { $order }
opened = { $kind } { $order }: { $step ->
        [pick] kompletacja
       *[pack] pakowanie
    } ({ $done }/{ $total } { $total ->
        [one] sztuka
        [few] sztuki
       *[many] sztuk
    })
at-location = Lokalizacja { $location }
tote-assigned = Zamówienie { $order } do pojemnika { $tote }
line-cancelled = Pozycja { $line } ({ $sku }) zamówienia { $order } anulowana
damaged-recorded = Zapisano uszkodzenie: { $sku }, pozycja { $line }; zeskanuj zamiennik
counted = { $kind } { $sku } pozycja { $line } ({ $count }/{ $of })
shipped = Zamówienie { $order } wysłane
held-by-scan = Zamówienie { $order } wstrzymane ({ $reason })
released = Zamówienie { $order } zwolnione: { $state }
reprinting = Ponowny druk etykiety { $order }
scan-damaged-item = Zeskanuj uszkodzony towar
scan-line-to-cancel = Zeskanuj towar z pozycji do anulowania
picked-short = Zamówienie { $order } skompletowane z brakami ({ $lines ->
        [one] { $lines } pozycja
        [few] { $lines } pozycje
       *[many] { $lines } pozycji
    })
labelled = Zamówienie { $order } ma etykietę

## Odrzucone skany

bad-check-digit = Błędna cyfra kontrolna { $symbology } { $code } (oczekiwano { $expected })
bad-gs1-field = GS1 AI ({ $ai }) błędne: { $problem }
unknown-gs1-ai = Nieznany identyfikator GS1 przy "{ $rest }"
scan-too-long = Skan za długi: { $bytes } { $bytes ->
        [one] bajt
        [few] bajty
       *[many] bajtów
    }, limit { $max }
scan-noise = Zakłócenie skanu: znak sterujący { $byte } na miejscu { $offset }
scan-not-utf8 = Skan nie jest poprawnym UTF-8 (miejsce { $offset })
log-in-first = Nie użyto { $code }: najpierw zaloguj się kartą
badge-not-listed = Karta { $badge } nie jest przypisana do tego stanowiska
order-not-cached = Zamówienia { $order } nie ma na tym stanowisku, a system zamówień nie jest skonfigurowany
held-put-aside = Zamówienie { $order } wstrzymane ({ $reason }): odłóż je lub poproś brygadzistę o zwolnienie
cancelled-do-not-ship = Zamówienie { $order } anulowane: nie wysyłaj
already-shipped = Zamówienie { $order } zostało już wysłane
packed-waits-for-label = Zamówienie { $order } spakowane, czeka na etykietę (CMD:REPRINT drukuje ją ponownie)
labelled-scan-tracking = Zamówienie { $order } ma etykietę: zeskanuj numer przesyłki, aby wysłać
wrong-station = Zamówienie { $order } jest { $state }; { $station } go nie obsługuje
location-without-order = { $location }: najpierw otwórz zamówienie do kompletacji
scan-order-first = Nie użyto { $code }: najpierw zeskanuj zamówienie
held-stop = Zamówienie { $order } wstrzymane ({ $reason }): przerwij i odłóż je
cancelled-return-items = Zamówienie { $order } anulowane: przerwij i odłóż towar z powrotem
nothing-more-to-scan = Zamówienie { $order } jest { $state }: nic więcej do skanowania
wrong-tote = Pojemnik { $tote } nie należy do zamówienia { $order }
wrong-item = { $code } nie ma w zamówieniu { $order }
not-a-product = { $code } to nie kod towaru i nie ma go w zamówieniu { $order }
line-already-cancelled = Ta pozycja zamówienia { $order } jest już anulowana
line-is-cancelled = Ta pozycja zamówienia { $order } jest anulowana
on-cancelled-line = { $code } należy do anulowanej pozycji zamówienia { $order }
over-quantity = Za dużo: pozycja { $line } ({ $sku }) zamówienia { $order } ma już { $done } z { $of }
unknown-tracking = Numer przesyłki { $tracking } nie pasuje do żadnego zamówienia na tym stanowisku
ships-at-ship-station = Zamówienie { $order } wysyła się ze stanowiska wysyłki, a to jest { $station }
held-do-not-ship = Zamówienie { $order } wstrzymane: nie wysyłaj
not-labelled = Zamówienie { $order } jest { $state }: wysyłamy tylko zamówienia z etykietą
command-needs-order = CMD:{ $command } wymaga otwartego zamówienia: najpierw zeskanuj zamówienie
unknown-command = CMD:{ $command } to nieznane polecenie (HOLD, RELEASE, REPRINT, CANCEL-LINE, DAMAGED, SHORT, LOGOUT)
needs-supervisor = { $action ->
        [release] Zwolnienie wstrzymania
        [reprint] Ponowny druk wydrukowanej etykiety
       *[cancel-line] Anulowanie pozycji
    } wymaga karty brygadzisty: poproś brygadzistę o zalogowanie
nothing-to-reprint = Zamówienie { $order } jest { $state }: przed spakowaniem nie ma etykiety do ponownego druku
no-label-printer = Na tym stanowisku nie skonfigurowano drukarki etykiet
not-being-worked = Zamówienie { $order } jest { $state }: nic nie jest kompletowane ani pakowane
not-being-picked = Zamówienie { $order } jest { $state }, nie w kompletacji
nothing-picked = Zamówienie { $order }: nic jeszcze nie skompletowano; zamiast tego je wstrzymaj
not-known-here = Zamówienie { $order } jest nieznane na tym stanowisku
cannot-become = Zamówienie { $order } jest { $state }; nie może przejść w stan „{ $to }”
already-final = Zamówienie { $order } jest już { $state }
already-held = Zamówienie { $order } jest już wstrzymane
cannot-hold = Zamówienie { $order } jest { $state } i nie można go wstrzymać
not-held = Zamówienie { $order } jest { $state }, nie wstrzymane

## Alerty

packed-no-label-printer = Zamówienie { $order } spakowane, ale nie ma tu drukarki etykiet
stopped-by-office = Zamówienie { $order } zostało { $state } przez biuro: przerwij i odłóż je
stopped-by-office-why = Zamówienie { $order } zostało { $state } przez biuro ({ $reason }): przerwij i odłóż je
not-found = Nie znaleziono zamówienia { $order }: { $detail }
did-not-print = { $document ->
        [label] Etykieta
       *[slip] Lista pakowania
    } zamówienia { $order } nie wydrukowała się: { $reason }; po naprawie drukarki zeskanuj CMD:REPRINT
clock-skew = Zegar stanowiska { $direction ->
        [ahead] spieszy się
       *[behind] spóźnia się
    } o { NUMBER($seconds) } s względem { $source ->
        [order-system] systemu zamówień
       *[cloud] polecenia z chmury
    }; sprawdź NTP (zdarzenia mają data.clock)
overdue = Zamówienie { $order } jest { $state } od ponad { $minutes } min ({ $level })

## Niezapisane skany

not-recorded = { $why ->
        [journal-full] Dziennik pełny: skan NIE zapisany, dopóki zdarzenia nie zostaną wysłane
        [disk-full] Dysk pełny: skan NIE zapisany, dopóki nie zwolni się miejsce
       *[storage] Skan NIE zapisany ({ $detail }); zeskanuj ponownie
    }
