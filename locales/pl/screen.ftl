# Własne słowa ekranu stanowiska (polski). Klucze i argumenty jak w en/screen.ftl; tylko
# tekst i { $name }, bez selektorów. Kody, identyfikatory i nazwy urządzeń bez zmian.

## Header and result

operator = Pracownik:
nobody = nikt nie jest zalogowany
ready = gotowe
scan-badge = zeskanuj identyfikator
scan-order = zeskanuj zamówienie
verdict-ok = OK
verdict-error = błąd
verdict-alert = uwaga
sound-on = dźwięk wł.
sound-off = dźwięk wył.

## Order

no-order = brak otwartego zamówienia
looking-up = szukam { $order }…
col-line = poz.
col-item = towar
col-expected = ilość
col-done = zrobione
damaged = uszkodzone: { $count }

## Alerts and devices

alerts = Alerty
devices = Urządzenia
none = brak
none-reported = brak zgłoszeń
clock-off = zegar przesunięty o { $seconds } s
journal-almost-full = dziennik prawie pełny
disk-full = dysk pełny: nowe skany są odrzucane do zwolnienia miejsca
disk-almost-full = dysk prawie pełny
commands-refused = polecenia odrzucone: broker odrzucił { $topic }
commands-downgraded = polecenia ograniczone: broker ograniczył { $topic }
broker-down = broker { $state }: zdarzenia czekają w dzienniku
kind-printer = drukarka
kind-scanner = skaner
device-ready = gotowe
device-offline = offline
device-cover_open = otwarta pokrywa
device-head_open = otwarta głowica
device-paper_out = brak papieru
device-paper_near_end = kończy się papier
device-ribbon_out = brak taśmy
device-paused = wstrzymane
device-buffer_full = bufor pełny
device-error = awaria

## Footer

backlog = zaległe:
broker = broker:
uplink-connecting = łączenie
uplink-connected = połączony
uplink-backoff = czeka na ponowienie
uplink-disabled = nieskonfigurowany
live = na żywo
updated = aktualizacja { $time }
connecting = łączenie…
reconnecting = ponowne łączenie…
no-connection = brak połączenia
