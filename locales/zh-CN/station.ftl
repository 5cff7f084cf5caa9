# 工作台对打包员说的话（简体中文）。键和参数与 en/station.ftl 相同；
# 代码、订单号、SKU、工牌和 $kind（事件类型）不翻译。
# 保持简短：屏幕为 1024×600，站在一步之外阅读。

## 词语

state-released = 已释放
state-picking = 拣货中
state-picked = 已拣货
state-packing = 打包中
state-packed = 已打包
state-labelled = 已贴标
state-shipped = 已发货
state-held = 已暂停
state-cancelled = 已取消
state-gone = 已不在本工作台
state-unknown = 状态未知
station-pick = 拣货台
station-pack = 打包台
station-ship = 发货台
station-multi = 多功能台
operator-packer = 打包员
operator-supervisor = 主管

## 已接受的扫描

logged-in = { $kind } { $badge }（{ $role }）
logged-out = { $kind } { $badge }
looking-up = 正在查找订单 { $order }
opened = { $kind } { $order } { $step ->
        [pick] 拣货
       *[pack] 打包
    }（{ $done }/{ $total } 件）
at-location = 库位 { $location }
tote-assigned = 订单 { $order } 放入周转箱 { $tote }
line-cancelled = 订单 { $order } 第 { $line } 行（{ $sku }）已取消
damaged-recorded = 已记录破损：{ $sku }，第 { $line } 行；请扫描替换商品
counted = { $kind } { $sku } 第 { $line } 行（{ $count }/{ $of }）
shipped = 订单 { $order } 已发货
held-by-scan = 订单 { $order } 已暂停（{ $reason }）
released = 订单 { $order } 已恢复：{ $state }
reprinting = 正在重打订单 { $order } 的标签
scan-damaged-item = 请扫描破损商品
scan-line-to-cancel = 请扫描要取消的那一行的商品
picked-short = 订单 { $order } 缺货完成拣货（{ $lines } 行缺货）
labelled = 订单 { $order } 已贴标

## 被拒绝的扫描

bad-check-digit = { $symbology } { $code } 校验位错误（应为 { $expected }）
bad-gs1-field = GS1 AI（{ $ai }）无效：{ $problem }
unknown-gs1-ai = 未知的 GS1 应用标识符："{ $rest }"
scan-too-long = 扫描内容过长：{ $bytes } 字节，上限 { $max }
scan-noise = 扫描有干扰：位置 { $offset } 有控制字符 { $byte }
scan-not-utf8 = 扫描内容不是有效的 UTF-8（位置 { $offset }）
log-in-first = { $code } 未使用：请先刷工牌登录
badge-not-listed = 工牌 { $badge } 未登记在本工作台
order-not-cached = 本工作台没有订单 { $order }，且未配置订单系统
held-put-aside = 订单 { $order } 已暂停（{ $reason }）：请放到一边，或请主管恢复
cancelled-do-not-ship = 订单 { $order } 已取消：不要发货
already-shipped = 订单 { $order } 已发货
packed-waits-for-label = 订单 { $order } 已打包，等待标签（CMD:REPRINT 可重打）
labelled-scan-tracking = 订单 { $order } 已贴标：扫描运单号即可发货
wrong-station = 订单 { $order } { $state }；{ $station }不能处理
location-without-order = { $location }：请先打开要拣货的订单
scan-order-first = { $code } 未使用：请先扫描订单
held-stop = 订单 { $order } 已暂停（{ $reason }）：请停止并放到一边
cancelled-return-items = 订单 { $order } 已取消：请停止并退回商品
nothing-more-to-scan = 订单 { $order } { $state }：无需再扫描
wrong-tote = 周转箱 { $tote } 不属于订单 { $order }
wrong-item = { $code } 不在订单 { $order } 中
not-a-product = { $code } 不是商品条码，也不在订单 { $order } 中
line-already-cancelled = 订单 { $order } 的该行早已取消
line-is-cancelled = 订单 { $order } 的该行已取消
on-cancelled-line = { $code } 属于订单 { $order } 中已取消的行
over-quantity = 数量超出：订单 { $order } 第 { $line } 行（{ $sku }）已有 { $done }/{ $of }
unknown-tracking = 运单号 { $tracking } 不属于本工作台的任何订单
ships-at-ship-station = 订单 { $order } 须在发货台发货，这里是{ $station }
held-do-not-ship = 订单 { $order } 已暂停：不要发货
not-labelled = 订单 { $order } { $state }：只有已贴标的订单才能发货
command-needs-order = CMD:{ $command } 需要已打开的订单：请先扫描订单
unknown-command = CMD:{ $command } 不是本工作台的命令（HOLD、RELEASE、REPRINT、CANCEL-LINE、DAMAGED、SHORT、LOGOUT）
needs-supervisor = { $action ->
        [release] 恢复暂停的订单
        [reprint] 重打已打印的标签
       *[cancel-line] 取消行
    }需要主管工牌：请主管刷卡登录
nothing-to-reprint = 订单 { $order } { $state }：打包前没有可重打的标签
no-label-printer = 本工作台未配置标签打印机
not-being-worked = 订单 { $order } { $state }：当前没有在拣货或打包
not-being-picked = 订单 { $order } { $state }，不在拣货中
nothing-picked = 订单 { $order }：尚未拣货；请改为暂停
not-known-here = 本工作台不认识订单 { $order }
cannot-become = 订单 { $order } { $state }；不能变为“{ $to }”
already-final = 订单 { $order } 已是“{ $state }”
already-held = 订单 { $order } 已处于暂停状态
cannot-hold = 订单 { $order } { $state }，不能暂停
not-held = 订单 { $order } { $state }，未暂停

## 提醒

packed-no-label-printer = 订单 { $order } 已打包，但这里未配置标签打印机
stopped-by-office = 办公室已将订单 { $order } 设为“{ $state }”：请停止并放到一边
stopped-by-office-why = 办公室已将订单 { $order } 设为“{ $state }”（{ $reason }）：请停止并放到一边
not-found = 找不到订单 { $order }：{ $detail }
did-not-print = 订单 { $order } 的{ $document ->
        [label] 标签
       *[slip] 装箱单
    }未打印：{ $reason }；修好打印机后扫描 CMD:REPRINT
clock-skew = 本机时钟比{ $source ->
        [order-system] 订单系统
       *[cloud] 云端命令
    }{ $direction ->
        [ahead] 快
       *[behind] 慢
    } { NUMBER($seconds) } 秒；请检查 NTP（事件带有 data.clock）
overdue = 订单 { $order } 处于“{ $state }”已超过 { $minutes } 分钟（{ $level }）

## 未保存的扫描

not-recorded = { $why ->
        [journal-full] 日志已满：扫描未保存，等待事件发送
        [disk-full] 磁盘已满：扫描未保存，等待释放空间
       *[storage] 扫描未保存（{ $detail }）；请重新扫描
    }
