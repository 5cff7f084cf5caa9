# Lo que el puesto dice al embalador, en español. Claves y argumentos como en
# en/station.ftl; códigos, números de pedido, SKU, tarjetas y $kind (tipo de evento) no se
# traducen. Breve: la pantalla es de 1024×600 y se lee a un paso de distancia.

## Palabras

state-released = liberado
state-picking = en preparación
state-picked = preparado
state-packing = en embalaje
state-packed = embalado
state-labelled = etiquetado
state-shipped = enviado
state-held = retenido
state-cancelled = cancelado
state-gone = fuera de este puesto
state-unknown = en estado desconocido
station-pick = puesto de preparación
station-pack = puesto de embalaje
station-ship = puesto de expedición
station-multi = puesto multifunción
operator-packer = embalador
operator-supervisor = supervisor

## Lecturas aceptadas

logged-in = { $kind } { $badge } ({ $role })
logged-out = { $kind } { $badge }
looking-up = Buscando el pedido { $order }
opened = { $kind } { $order } para { $step ->
        [pick] preparar
       *[pack] embalar
    } ({ $done }/{ $total } { $total ->
        [one] artículo
       *[other] artículos
    })
at-location = En { $location }
tote-assigned = El pedido { $order } va en { $tote }
line-cancelled = Línea { $line } ({ $sku }) del pedido { $order } cancelada
damaged-recorded = Daño registrado: { $sku }, línea { $line }; escanee un repuesto
counted = { $kind } { $sku } línea { $line } ({ $count }/{ $of })
shipped = Pedido { $order } enviado
held-by-scan = Pedido { $order } retenido ({ $reason })
released = Pedido { $order } liberado: { $state }
reprinting = Reimprimiendo la etiqueta de { $order }
scan-damaged-item = Escanee el artículo dañado
scan-line-to-cancel = Escanee un artículo de la línea a cancelar
picked-short = Pedido { $order } preparado incompleto ({ $lines ->
        [one] { $lines } línea
       *[other] { $lines } líneas
    })
labelled = Pedido { $order } etiquetado

## Lecturas rechazadas

bad-check-digit = Dígito de control de { $symbology } { $code } incorrecto (se esperaba { $expected })
bad-gs1-field = GS1 AI ({ $ai }) no válido: { $problem }
unknown-gs1-ai = Identificador de aplicación GS1 desconocido en "{ $rest }"
scan-too-long = Lectura demasiado larga: { $bytes } bytes, máximo { $max }
scan-noise = Ruido en la lectura: carácter de control { $byte } en la posición { $offset }
scan-not-utf8 = La lectura no es UTF-8 válido (posición { $offset })
log-in-first = No se usó { $code }: primero identifíquese con su tarjeta
badge-not-listed = La tarjeta { $badge } no está registrada en este puesto
order-not-cached = El pedido { $order } no está en este puesto y no hay sistema de pedidos configurado
held-put-aside = El pedido { $order } está retenido ({ $reason }): apártelo o pida a un supervisor que lo libere
cancelled-do-not-ship = El pedido { $order } fue cancelado: no lo envíe
already-shipped = El pedido { $order } ya fue enviado
packed-waits-for-label = El pedido { $order } está embalado y espera su etiqueta (CMD:REPRINT la reimprime)
labelled-scan-tracking = El pedido { $order } está etiquetado: escanee su número de seguimiento para enviarlo
wrong-station = El pedido { $order } está { $state }; un { $station } no puede trabajarlo
location-without-order = { $location }: primero abra un pedido para preparar
scan-order-first = No se usó { $code }: primero escanee un pedido
held-stop = El pedido { $order } está retenido ({ $reason }): pare y apártelo
cancelled-return-items = El pedido { $order } fue cancelado: pare y devuelva sus artículos
nothing-more-to-scan = El pedido { $order } está { $state }: no queda nada por escanear
wrong-tote = El contenedor { $tote } no es el del pedido { $order }
wrong-item = { $code } no está en el pedido { $order }
not-a-product = { $code } no es un código de artículo ni está en el pedido { $order }
line-already-cancelled = Esa línea del pedido { $order } ya está cancelada
line-is-cancelled = Esa línea del pedido { $order } está cancelada
on-cancelled-line = { $code } pertenece a una línea cancelada del pedido { $order }
over-quantity = Cantidad excedida: la línea { $line } ({ $sku }) del pedido { $order } ya tiene { $done } de { $of }
unknown-tracking = El número de seguimiento { $tracking } no corresponde a ningún pedido de este puesto
ships-at-ship-station = El pedido { $order } se envía en un puesto de expedición, no en un { $station }
held-do-not-ship = El pedido { $order } está retenido: no lo envíe
not-labelled = El pedido { $order } está { $state }: solo se envía un pedido etiquetado
command-needs-order = CMD:{ $command } necesita un pedido abierto: escanee primero el pedido
unknown-command = CMD:{ $command } no es un comando de este puesto (HOLD, RELEASE, REPRINT, CANCEL-LINE, DAMAGED, SHORT, LOGOUT)
needs-supervisor = { $action ->
        [release] Liberar una retención
        [reprint] Reimprimir una etiqueta ya impresa
       *[cancel-line] Cancelar una línea
    } requiere la tarjeta de un supervisor: pida a un supervisor que se identifique
nothing-to-reprint = El pedido { $order } está { $state }: no hay etiqueta que reimprimir antes de embalarlo
no-label-printer = Este puesto no tiene impresora de etiquetas configurada
not-being-worked = El pedido { $order } está { $state }: no se está preparando ni embalando
not-being-picked = El pedido { $order } está { $state }, no en preparación
nothing-picked = Pedido { $order }: aún no se ha preparado nada; mejor reténgalo
not-known-here = El pedido { $order } no se conoce en este puesto
cannot-become = El pedido { $order } está { $state }; no puede pasar a «{ $to }»
already-final = El pedido { $order } ya está { $state }
already-held = El pedido { $order } ya está retenido
cannot-hold = El pedido { $order } está { $state } y no se puede retener
not-held = El pedido { $order } está { $state }, no retenido

## Alertas

packed-no-label-printer = El pedido { $order } está embalado, pero aquí no hay impresora de etiquetas configurada
stopped-by-office = El pedido { $order } fue { $state } por la oficina: pare y apártelo
stopped-by-office-why = El pedido { $order } fue { $state } por la oficina ({ $reason }): pare y apártelo
not-found = No se encontró el pedido { $order }: { $detail }
did-not-print = { $document ->
        [label] La etiqueta
       *[slip] El albarán
    } del pedido { $order } no se imprimió: { $reason }; escanee CMD:REPRINT tras arreglar la impresora
clock-skew = El reloj del equipo va { NUMBER($seconds) } s { $direction ->
        [ahead] adelantado
       *[behind] atrasado
    } respecto { $source ->
        [order-system] al sistema de pedidos
       *[cloud] al comando de la nube
    }; revise NTP (los eventos llevan data.clock)
overdue = El pedido { $order } lleva más de { $minutes } min { $state } ({ $level })

## Escaneos no guardados

not-recorded = { $why ->
        [journal-full] Diario lleno: escaneo NO guardado hasta enviar los eventos
        [disk-full] Disco lleno: escaneo NO guardado hasta liberar espacio
       *[storage] Escaneo NO guardado ({ $detail }); vuelva a escanear
    }
