#!/bin/sh
# A private CA for the broker and the broker's server certificate, with openssl (docs/broker.md).
#
#   deploy/mosquitto/make-certs.sh DIR NAME [NAME ...]
#
# DIR receives ca.crt and ca.key (made on the first run only; keep ca.key offline between
# runs), and server.crt and server.key for the broker, valid for every
# NAME: host names (DNS) and IP addresses, as collectors and gateways write the broker's address
# in their [mqtt] host. Run it again with the same DIR to renew the server certificate under
# the same CA; collectors keep their ca.crt. Keys are EC P-256; the CA lasts 10 years, the server
# certificate 825 days. tests/integration/test_broker_security.py runs this script.
set -eu

if [ "$#" -lt 2 ]; then
    sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
dir=$1
shift
umask 077
mkdir -p "$dir"
cd "$dir"

if [ -f ca.crt ] && [ ! -f ca.key ]; then
    echo "make-certs: $dir/ca.crt exists without ca.key: put the CA's key back to sign with it" >&2
    echo "  (a new CA would need a new ca.crt on every collector and gateway)" >&2
    exit 1
fi
if [ ! -f ca.key ]; then
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout ca.key -out ca.crt -days 3650 -subj "/CN=isu-gateway MQTT CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign"
    chmod 644 ca.crt
fi

names=""
for name in "$@"; do
    case "$name" in
        *[!0-9.]*) entry="DNS:$name" ;;  # not a dotted quad: a host name (or an IPv6 address)
        *) entry="IP:$name" ;;
    esac
    case "$name" in *:*) entry="IP:$name" ;; esac
    names="${names:+$names,}$entry"
done

cat >server.ext <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$names
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
EOF
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout server.key -out server.csr -subj "/CN=$1"
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -set_serial "0x$(openssl rand -hex 16)" \
    -days 825 -extfile server.ext -out server.crt
rm -f server.csr server.ext
chmod 644 server.crt
echo "make-certs: $dir/server.crt for $names, signed by $dir/ca.crt"
