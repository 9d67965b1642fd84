#!/usr/bin/env bash
# tshark with the Thread settings of our network: the network key (MAC and MLE decryption and
# MIC checks) and the mesh-local prefix as 6LoWPAN context 0. Key: $PYMESH_KEY or Pymesh's default.
key=${PYMESH_KEY:-1234c0de1ab51234c0de1ab5ca1a110f}
exec tshark -o "uat:ieee802154_keys:\"$key\",\"1\",\"Thread hash\"" \
  -o "6lowpan.context0:fdde:ad00:beef:0::/64" "$@"
