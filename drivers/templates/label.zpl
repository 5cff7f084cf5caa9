^XA
^CI28
^PW812
^LL1218
^FO40,40^A0N,44,44^FH^FD{{carrier}} {{service}}^FS
^FO40,100^A0N,30,30^FH^FDOrder {{order.id}}^FS
^FO40,180^A0N,38,38^FH^FD{{ship_to.name}}^FS
^FO40,228^A0N,32,32^FH^FD{{ship_to.street}}^FS
^FO40,270^A0N,32,32^FH^FD{{ship_to.postcode}} {{ship_to.city}}^FS
^FO40,312^A0N,32,32^FH^FD{{ship_to.country}}^FS
^FO40,400^BY3^BCN,176,Y,N,N,A^FH^FD{{tracking}}^FS
^FO80,640^BY4^BCN,256,Y,N,N,D^FH^FD(00){{sscc}}^FS
^FO600,40^BQN,2,5^FH^FDQA,{{order.id}}^FS
^XZ
