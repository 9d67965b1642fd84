#!/usr/bin/env bash
# tshark with the Thread settings of our network: the network key (MAC and MLE decryption and
# MIC checks), the mesh-local prefix as 6LoWPAN context 0, and TMF (UDP port 61631) as CoAP so
# that a/as, a/aq, a/an, a/sd... show by name. Key: $PYMESH_KEY or Pymesh's default.
key=${PYMESH_KEY:-1234c0de1ab51234c0de1ab5ca1a110f}
exec tshark -o "uat:ieee802154_keys:\"$key\",\"1\",\"Thread hash\"" \
  -o "6lowpan.context0:fdde:ad00:beef:0::/64" -d udp.port==61631,coap "$@"
