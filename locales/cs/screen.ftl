# Vlastní slova obrazovky pracoviště (čeština). Klíče a argumenty jako v en/screen.ftl;
# jen text a { $name }, bez selektorů. Kódy, ID a názvy zařízení se nepřekládají.

## Header and result

operator = pracovník:
nobody = nikdo není přihlášen
ready = připraveno
scan-badge = načtěte svou kartu
scan-order = načtěte objednávku
verdict-ok = OK
verdict-error = chyba
verdict-alert = pozor
sound-on = zvuk zap.
sound-off = zvuk vyp.

## Order

no-order = žádná otevřená objednávka
looking-up = hledám { $order }…
col-line = pol.
col-item = zboží
col-expected = má být
col-done = hotovo
damaged = poškozeno: { $count }

## Alerts and devices

alerts = Upozornění
devices = Zařízení
none = žádná
none-reported = nic nehlášeno
clock-off = hodiny se liší o { $seconds } s
journal-almost-full = deník téměř plný
disk-full = disk plný: nová skenování jsou odmítána, dokud se neuvolní místo
disk-almost-full = disk téměř plný
commands-refused = příkazy odmítnuty: broker odmítl { $topic }
commands-downgraded = příkazy omezeny: broker omezil { $topic }
broker-down = broker { $state }: události čekají v deníku
kind-printer = tiskárna
kind-scanner = skener
device-ready = připraveno
device-offline = offline
device-cover_open = otevřený kryt
device-head_open = otevřená hlava
device-paper_out = došel papír
device-paper_near_end = dochází papír
device-ribbon_out = došla páska
device-paused = pozastaveno
device-buffer_full = plný zásobník
device-error = porucha

## Footer

backlog = nevyřízeno:
broker = broker:
uplink-connecting = připojuje se
uplink-connected = připojeno
uplink-backoff = čeká na nový pokus
uplink-disabled = nenastaveno
live = živě
updated = aktualizováno { $time }
connecting = připojuji…
reconnecting = znovu připojuji…
no-connection = bez spojení
