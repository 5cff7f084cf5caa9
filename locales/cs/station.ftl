# Co pracoviště říká baliči, česky. Klíče a argumenty jako v en/station.ftl; kódy, čísla
# objednávek, SKU, karty a $kind (druh události) se nepřekládají.
# Stručně: obrazovka má 1024×600 a čte se z kroku vzdálenosti.

## Slova

state-released = uvolněná
state-picking = ve vychystávání
state-picked = vychystaná
state-packing = v balení
state-packed = zabalená
state-labelled = označená štítkem
state-shipped = odeslaná
state-held = pozastavená
state-cancelled = zrušená
state-gone = už mimo toto pracoviště
state-unknown = v neznámém stavu
station-pick = pracoviště vychystávání
station-pack = balicí pracoviště
station-ship = expediční pracoviště
station-multi = víceúčelové pracoviště
operator-packer = balič
operator-supervisor = vedoucí směny

## Přijaté skeny

logged-in = { $kind } { $badge } ({ $role })
logged-out = { $kind } { $badge }
looking-up = Hledám objednávku { $order }
opened = { $kind } { $order }: { $step ->
        [pick] vychystávání
       *[pack] balení
    } ({ $done }/{ $total } { $total ->
        [one] kus
        [few] kusy
       *[other] kusů
    })
at-location = Umístění { $location }
tote-assigned = Objednávka { $order } jde do přepravky { $tote }
line-cancelled = Položka { $line } ({ $sku }) objednávky { $order } zrušena
damaged-recorded = Poškození zapsáno: { $sku }, položka { $line }; naskenujte náhradu
counted = { $kind } { $sku } položka { $line } ({ $count }/{ $of })
shipped = Objednávka { $order } odeslána
held-by-scan = Objednávka { $order } pozastavena ({ $reason })
released = Objednávka { $order } uvolněna: { $state }
reprinting = Znovu tisknu štítek { $order }
scan-damaged-item = Naskenujte poškozené zboží
scan-line-to-cancel = Naskenujte zboží z položky, kterou rušíte
picked-short = Objednávka { $order } vychystána s chybějícím zbožím ({ $lines ->
        [one] { $lines } položka
        [few] { $lines } položky
       *[other] { $lines } položek
    })
labelled = Objednávka { $order } má štítek

## Odmítnuté skeny

bad-check-digit = Chybná kontrolní číslice { $symbology } { $code } (očekáváno { $expected })
bad-gs1-field = GS1 AI ({ $ai }) chybný: { $problem }
unknown-gs1-ai = Neznámý identifikátor GS1 u "{ $rest }"
scan-too-long = Sken je příliš dlouhý: { $bytes } { $bytes ->
        [one] bajt
        [few] bajty
       *[other] bajtů
    }, limit { $max }
scan-noise = Rušení skenu: řídicí znak { $byte } na pozici { $offset }
scan-not-utf8 = Sken není platné UTF-8 (pozice { $offset })
log-in-first = Kód { $code } nebyl použit: nejdřív se přihlaste kartou
badge-not-listed = Karta { $badge } není pro toto pracoviště zapsaná
order-not-cached = Objednávka { $order } na tomto pracovišti není a systém objednávek není nastaven
held-put-aside = Objednávka { $order } je pozastavená ({ $reason }): odložte ji nebo požádejte vedoucího o uvolnění
cancelled-do-not-ship = Objednávka { $order } byla zrušena: neodesílejte ji
already-shipped = Objednávka { $order } už byla odeslána
packed-waits-for-label = Objednávka { $order } je zabalená a čeká na štítek (CMD:REPRINT ho vytiskne znovu)
labelled-scan-tracking = Objednávka { $order } má štítek: k odeslání naskenujte číslo zásilky
wrong-station = Objednávka { $order } je { $state }; { $station } s ní nemůže pracovat
location-without-order = { $location }: nejdřív otevřete objednávku k vychystání
scan-order-first = Kód { $code } nebyl použit: nejdřív naskenujte objednávku
held-stop = Objednávka { $order } je pozastavená ({ $reason }): přestaňte a odložte ji
cancelled-return-items = Objednávka { $order } byla zrušena: přestaňte a vraťte zboží
nothing-more-to-scan = Objednávka { $order } je { $state }: už není co skenovat
wrong-tote = Přepravka { $tote } nepatří k objednávce { $order }
wrong-item = { $code } není v objednávce { $order }
not-a-product = { $code } není kód zboží a není v objednávce { $order }
line-already-cancelled = Tato položka objednávky { $order } už je zrušená
line-is-cancelled = Tato položka objednávky { $order } je zrušená
on-cancelled-line = { $code } patří ke zrušené položce objednávky { $order }
over-quantity = Příliš mnoho: položka { $line } ({ $sku }) objednávky { $order } už má { $done } z { $of }
unknown-tracking = Číslo zásilky { $tracking } nepatří k žádné objednávce na tomto pracovišti
ships-at-ship-station = Objednávka { $order } se odesílá na expedičním pracovišti, toto je { $station }
held-do-not-ship = Objednávka { $order } je pozastavená: neodesílejte ji
not-labelled = Objednávka { $order } je { $state }: odeslat lze jen objednávku se štítkem
command-needs-order = CMD:{ $command } potřebuje otevřenou objednávku: nejdřív ji naskenujte
unknown-command = CMD:{ $command } tu není známý příkaz (HOLD, RELEASE, REPRINT, CANCEL-LINE, DAMAGED, SHORT, LOGOUT)
needs-supervisor = { $action ->
        [release] Uvolnění pozastavení
        [reprint] Opakovaný tisk už vytištěného štítku
       *[cancel-line] Zrušení položky
    } vyžaduje kartu vedoucího: požádejte vedoucího směny o přihlášení
nothing-to-reprint = Objednávka { $order } je { $state }: před zabalením není štítek k opakovanému tisku
no-label-printer = Na tomto pracovišti není nastavena tiskárna štítků
not-being-worked = Objednávka { $order } je { $state }: nic se nevychystává ani nebalí
not-being-picked = Objednávka { $order } je { $state }, nevychystává se
nothing-picked = Objednávka { $order }: zatím nic nevychystáno; místo toho ji pozastavte
not-known-here = Objednávka { $order } není na tomto pracovišti známá
cannot-become = Objednávka { $order } je { $state }; nemůže přejít do stavu „{ $to }“
already-final = Objednávka { $order } už je { $state }
already-held = Objednávka { $order } už je pozastavená
cannot-hold = Objednávka { $order } je { $state } a nelze ji pozastavit
not-held = Objednávka { $order } je { $state }, není pozastavená

## Upozornění

packed-no-label-printer = Objednávka { $order } je zabalená, ale tiskárna štítků tu není nastavena
stopped-by-office = Objednávka { $order } je nyní { $state } (kancelář): přestaňte a odložte ji
stopped-by-office-why = Objednávka { $order } je nyní { $state } (kancelář: { $reason }): přestaňte a odložte ji
not-found = Objednávka { $order } nenalezena: { $detail }
did-not-print = { $document ->
        [label] Štítek
       *[slip] Dodací list
    } objednávky { $order } se nevytiskl: { $reason }; po opravě tiskárny naskenujte CMD:REPRINT
clock-skew = Hodiny pracoviště se { $direction ->
        [ahead] předbíhají
       *[behind] zpožďují
    } o { NUMBER($seconds) } s oproti { $source ->
        [order-system] systému objednávek
       *[cloud] příkazu z cloudu
    }; zkontrolujte NTP (události nesou data.clock)
overdue = Objednávka { $order } je { $state } už přes { $minutes } min ({ $level })

## Neuložené skeny

not-recorded = { $why ->
        [journal-full] Deník plný: sken NEULOŽEN, dokud se neodešlou události
        [disk-full] Disk plný: sken NEULOŽEN, dokud se neuvolní místo
       *[storage] Sken NEULOŽEN ({ $detail }); naskenujte znovu
    }
