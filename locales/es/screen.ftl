# Las palabras propias de la pantalla del puesto (español). Claves y argumentos como en
# en/screen.ftl; solo texto y { $name }, sin selectores. Códigos, ids y equipos sin traducir.

## Header and result

operator = operario:
nobody = sin operario
ready = listo
scan-badge = escanee su tarjeta
scan-order = escanee un pedido
verdict-ok = OK
verdict-error = error
verdict-alert = aviso
sound-on = sonido sí
sound-off = sonido no

## Order

no-order = ningún pedido abierto
looking-up = buscando { $order }…
col-line = línea
col-item = artículo
col-expected = previsto
col-done = hecho
damaged = dañados: { $count }

## Alerts and devices

alerts = Avisos
devices = Equipos
none = ninguno
none-reported = sin datos
clock-off = reloj desfasado { $seconds } s
journal-almost-full = diario casi lleno
disk-full = disco lleno: se rechazan escaneos hasta liberar espacio
disk-almost-full = disco casi lleno
commands-refused = órdenes rechazadas: el bróker rechazó { $topic }
commands-downgraded = órdenes limitadas: el bróker degradó { $topic }
broker-down = bróker { $state }: los eventos esperan en el diario
kind-printer = impresora
kind-scanner = escáner
device-ready = listo
device-offline = sin conexión
device-cover_open = tapa abierta
device-head_open = cabezal abierto
device-paper_out = sin papel
device-paper_near_end = poco papel
device-ribbon_out = sin cinta
device-paused = en pausa
device-buffer_full = búfer lleno
device-error = avería

## Footer

backlog = pendientes:
broker = bróker:
uplink-connecting = conectando
uplink-connected = conectado
uplink-backoff = esperando reintento
uplink-disabled = no configurado
live = en vivo
updated = actualizado { $time }
connecting = conectando…
reconnecting = reconectando…
no-connection = sin conexión
