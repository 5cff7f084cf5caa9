# What the station says to the packer, in English: the reference catalog.
# Events and replies to the cloud carry these texts too, so they must not change
# without a change to the MQTT contract (docs/asyncapi.yaml). See locales/README.md.
# Arguments: $order, $code, $sku, $badge, $tote, $location, $tracking are ids shown as
# they are; $kind is an event kind (kept in every locale); $state and $station are words
# (state-*, station-*) rendered from this catalog.

## Words

state-released = released
state-picking = picking
state-picked = picked
state-packing = packing
state-packed = packed
state-labelled = labelled
state-shipped = shipped
state-held = held
state-cancelled = cancelled
# An order no longer in the cache.
state-gone = gone
state-unknown = unknown
station-pick = pick
station-pack = pack
station-ship = ship
station-multi = multi
operator-packer = packer
operator-supervisor = supervisor

## Accepted scans (ok seq=N …)

logged-in = { $kind } { $badge } ({ $role })
logged-out = { $kind } { $badge }
looking-up = looking up order { $order }
opened = { $kind } { $order } for { $step ->
        [pick] picking
       *[pack] packing
    } ({ $done }/{ $total } items)
at-location = at { $location }
tote-assigned = order { $order } goes in { $tote }
line-cancelled = line { $line } ({ $sku }) of order { $order } cancelled
damaged-recorded = damaged { $sku } on line { $line } recorded; scan a replacement
counted = { $kind } { $sku } line { $line } ({ $count }/{ $of })
shipped = order { $order } shipped
held-by-scan = order { $order } held ({ $reason })
released = order { $order } released to { $state }
reprinting = reprinting the label of { $order }
scan-damaged-item = scan the damaged item
scan-line-to-cancel = scan an item of the line to cancel
picked-short = order { $order } picked short ({ $lines } line(s))
labelled = order { $order } labelled

## Refused scans (error <code>: …)

# $symbology: EAN-13, UPC-A, … as the scanner library names it.
bad-check-digit = check digit of { $symbology } { $code } is wrong (expected { $expected })
# $problem: what is wrong with the field, in English (from the barcode parser).
bad-gs1-field = GS1 AI ({ $ai }) { $problem }
unknown-gs1-ai = unknown GS1 application identifier at "{ $rest }"
scan-too-long = scan of { $bytes } bytes exceeds the { $max }-byte limit
scan-noise = scan contains control byte { $byte } at offset { $offset }; noise on the line?
scan-not-utf8 = scan is not valid UTF-8 (offset { $offset })
log-in-first = { $code } was not used: log in with your badge first
badge-not-listed = badge { $badge } is not listed for this station
order-not-cached = order { $order } is not in this station's cache and no order system is configured
held-put-aside = order { $order } is held ({ $reason }): put it aside or ask a supervisor to release it
cancelled-do-not-ship = order { $order } was cancelled: do not ship it
already-shipped = order { $order } has already shipped
packed-waits-for-label = order { $order } is packed and waits for its label (CMD:REPRINT prints it again)
labelled-scan-tracking = order { $order } is labelled: scan its tracking number to ship it
wrong-station = order { $order } is { $state }; a { $station } station cannot work on it
location-without-order = { $location }: open an order for picking first
scan-order-first = { $code } was not used: scan an order first
held-stop = order { $order } is held ({ $reason }): stop and put it aside
cancelled-return-items = order { $order } was cancelled: stop and return its items
nothing-more-to-scan = order { $order } is { $state }: nothing more to scan for it
wrong-tote = tote { $tote } is not the tote of order { $order }
wrong-item = { $code } is not on order { $order }
not-a-product = { $code } is not a product barcode nor listed on order { $order }
line-already-cancelled = that line of order { $order } is already cancelled
line-is-cancelled = that line of order { $order } is cancelled
on-cancelled-line = { $code } belongs to a cancelled line of order { $order }
over-quantity = over quantity: line { $line } ({ $sku }) of order { $order } already has { $done } of { $of }
unknown-tracking = tracking number { $tracking } belongs to no order in this station's cache
ships-at-ship-station = order { $order } ships at a ship station, not at a { $station } station
held-do-not-ship = order { $order } is held: do not ship it
not-labelled = order { $order } is { $state }: only a labelled order ships
command-needs-order = CMD:{ $command } needs an open order: scan the order first
unknown-command = CMD:{ $command } is not a command this station knows (HOLD, RELEASE, REPRINT, CANCEL-LINE, DAMAGED, SHORT, LOGOUT)
needs-supervisor = { $action ->
        [release] releasing a hold
        [reprint] reprinting a label that was already printed
       *[cancel-line] cancelling a line
    } needs a supervisor badge: ask a supervisor to scan in
nothing-to-reprint = order { $order } is { $state }: there is no label to reprint before it is packed
no-label-printer = no label printer is configured at this station
not-being-worked = order { $order } is { $state }: nothing is being picked or packed
not-being-picked = order { $order } is { $state }, not being picked
nothing-picked = order { $order }: nothing picked yet; hold it instead
not-known-here = order { $order } is not known at this station
cannot-become = order { $order } is { $state }; it cannot become { $to }
already-final = order { $order } is already { $state }
already-held = order { $order } is already held
cannot-hold = order { $order } is { $state } and cannot be held
not-held = order { $order } is { $state }, not held

## Alerts (alert <code>: …)

packed-no-label-printer = order { $order } is packed but no label printer is configured here
stopped-by-office = order { $order } was { $state } by the office: stop and put it aside
# $reason: the office's words, as sent.
stopped-by-office-why = order { $order } was { $state } by the office ({ $reason }): stop and put it aside
# $detail: what the order system answered, in English.
not-found = order { $order } could not be found: { $detail }
# $reason: what the printer or its driver reported, in English.
did-not-print = { $document ->
        [label] label
       *[slip] slip
    } for order { $order } did not print: { $reason }; scan CMD:REPRINT after fixing the printer
clock-skew = the box clock is { NUMBER($seconds) } s { $direction ->
        [ahead] ahead of
       *[behind] behind
    } { $source ->
        [order-system] order system
       *[cloud] cloud command
    }'s; check NTP (events carry data.clock)
# $level: the overdue level's name from the config (reminder, escalate, …).
overdue = order { $order } has been { $state } for over { $minutes } min ({ $level })

## Inputs not recorded (nothing of them happened)

# $why: journal-full, disk-full or storage; $detail: the journal's own message (English, as
# the log and a command's reply say it). English shows the detail as it is.
not-recorded = { $why ->
        [journal-full] { $detail }
        [disk-full] { $detail }
       *[storage] { $detail }
    }
