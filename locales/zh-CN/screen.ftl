# 工作台屏幕自身的文字（简体中文）。键和参数与 en/screen.ftl 相同；只有文字和
# { $name }，没有选择器。代码、编号和设备名称不翻译。

## Header and result

operator = 操作员：
nobody = 无人登录
ready = 就绪
scan-badge = 请扫描工牌
scan-order = 请扫描订单
verdict-ok = 正确
verdict-error = 错误
verdict-alert = 警告
sound-on = 声音：开
sound-off = 声音：关

## Order

no-order = 没有打开的订单
looking-up = 正在查找 { $order }…
col-line = 行
col-item = 商品
col-expected = 应扫
col-done = 已扫
damaged = 损坏 { $count }

## Alerts and devices

alerts = 警报
devices = 设备
none = 无
none-reported = 无上报
clock-off = 时钟偏差 { $seconds } 秒
journal-almost-full = 日志快满了
disk-full = 磁盘已满：释放空间前拒绝新扫描
disk-almost-full = 磁盘快满了
commands-refused = 指令被拒：代理拒绝了 { $topic }
commands-downgraded = 指令降级：代理降级了 { $topic }
broker-down = 代理{ $state }：事件在日志中等待
kind-printer = 打印机
kind-scanner = 扫描枪
device-ready = 就绪
device-offline = 离线
device-cover_open = 盖子打开
device-head_open = 打印头打开
device-paper_out = 缺纸
device-paper_near_end = 纸将用完
device-ribbon_out = 缺碳带
device-paused = 已暂停
device-buffer_full = 缓冲区满
device-error = 故障

## Footer

backlog = 待发送：
broker = 代理：
uplink-connecting = 连接中
uplink-connected = 已连接
uplink-backoff = 等待重连
uplink-disabled = 未配置
live = 实时
updated = 更新于 { $time }
connecting = 连接中…
reconnecting = 重新连接中…
no-connection = 无连接
