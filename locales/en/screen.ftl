# The station screen's own words, in English: the reference catalog of the screen.
# The page formats these itself, so a message is plain text with { $name } placeables only
# (no selectors, no functions: tested). Counts stand after a label ("backlog: 3"), never
# inside a plural. Order states and roles come from station.ftl (state-*, station-*,
# operator-*). Codes (wrong_item), ids and device names are never translated.
# See locales/README.md.

## Header and result

operator = operator:
nobody = nobody logged in
ready = ready
scan-badge = scan your badge
scan-order = scan an order
verdict-ok = ok
verdict-error = error
verdict-alert = alert
sound-on = sound on
sound-off = sound off

## Order

no-order = no order open
looking-up = looking up { $order }…
col-line = line
col-item = item
col-expected = expected
col-done = done
damaged = { $count } damaged

## Alerts and devices

alerts = Alerts
devices = Devices
none = none
none-reported = none reported
clock-off = clock off by { $seconds } s
journal-almost-full = journal almost full
disk-full = disk full: new scans are refused until space is freed
disk-almost-full = disk almost full
commands-refused = commands refused: the broker refused { $topic }
commands-downgraded = commands downgraded: the broker downgraded { $topic }
broker-down = broker { $state }: events wait in the journal
kind-printer = printer
kind-scanner = scanner
device-ready = ready
device-offline = offline
device-cover_open = cover open
device-head_open = head open
device-paper_out = paper out
device-paper_near_end = paper low
device-ribbon_out = ribbon out
device-paused = paused
device-buffer_full = buffer full
device-error = error

## Footer

backlog = backlog:
broker = broker:
uplink-connecting = connecting
uplink-connected = connected
uplink-backoff = waiting to reconnect
uplink-disabled = not configured
live = live
updated = updated { $time }
connecting = connecting…
reconnecting = reconnecting…
no-connection = no connection
