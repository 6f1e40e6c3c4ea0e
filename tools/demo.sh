#!/usr/bin/env bash
# The lifecycle API walked through, step by step, against a switch of its own: a partner's user from
# registration and KYC to cards that are locked, unlocked, ordered and activated; a corporation from
# KYB to its cards; partner balances and the low-balance notification delivered to a webhook; card
# data, PINs and CVC2s inside JWE, with the switch checking the PIN over ISO 8583; fee schedules,
# FX rates and the fee report. Every step checks the HTTP status and the fields that matter and
# prints "ok"; the first unexpected answer prints FAIL with what came back and ends the run with
# exit code 1. CI runs it, so the steps below are the API as it is.
#
#   tools/demo.sh            # after `cargo build -p antaca` (or `cargo test --workspace`)
#   DEMO_BIN=target/release tools/demo.sh
#
# The switch (DEMO_BIN/antaca, default target/debug; CARGO_TARGET_DIR is honoured) serves a fresh
# SQLite database with its own development certificates and JWE key, all in a temporary directory
# removed at the end, on free ports; nothing is written to data/. Needs curl, jq and python3; the
# JWE client (tools/jwe/jwe_client.py) runs in a virtual environment with jwcrypto and pyiso8583,
# made under target/demo-venv the first time (DEMO_VENV to put it elsewhere).
#
# The answers hold full card data only inside JWE, opened here in the temporary directory; a
# failing step never prints a decrypted card.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${DEMO_BIN:-${CARGO_TARGET_DIR:-target}/debug}
venv=${DEMO_VENV:-${CARGO_TARGET_DIR:-target}/demo-venv}
if [ ! -x "$bin/antaca" ]; then
    echo "no $bin/antaca: build it first (cargo build -p antaca)" >&2
    exit 2
fi
for tool in curl jq python3; do
    command -v "$tool" > /dev/null || { echo "demo.sh needs $tool" >&2; exit 2; }
done
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import jwcrypto, iso8583' 2> /dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet jwcrypto pyiso8583
fi
jwe() { "$venv/bin/python" tools/jwe/jwe_client.py "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/antaca-demo.XXXXXX")
finish() {
    local status=$?
    kill ${switch:-} ${hook:-} 2> /dev/null || true
    wait ${switch:-} ${hook:-} 2> /dev/null || true
    if [ "$status" -ne 0 ] && [ -f "$work/switch.log" ]; then
        echo "--- the switch's log, last lines:" >&2
        tail -n 20 "$work/switch.log" >&2
    fi
    rm -rf "$work"
}
trap finish EXIT

# Three free ports (the kernel's choice, released just before the switch binds them).
read -r iso_port http_port hook_port < <(python3 -c '
import socket
held = [socket.socket() for _ in range(3)]
for s in held: s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in held))')

# The partner's webhook: refuses the first delivery (503) to show the retry, accepts the next ones,
# and records each with whether its Antaca-Signature is the HMAC-SHA256 of the body under the secret.
secret=demo-webhook-secret-0123456789
cat > "$work/hook.py" << 'EOF'
import hashlib, hmac, http.server, json, sys
port, secret, record = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
class Hook(http.server.BaseHTTPRequestHandler):
    seen = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        Hook.seen += 1
        status = 503 if Hook.seen == 1 else 200
        with open(record, "a") as out:
            out.write(json.dumps({"status": status, "id": self.headers["antaca-notification-id"],
                                  "signed": hmac.compare_digest(expected, self.headers.get("antaca-signature", "")),
                                  "body": json.loads(body)}) + "\n")
        self.send_response(status)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
EOF
python3 "$work/hook.py" "$hook_port" "$secret" "$work/hook.jsonl" &
hook=$!
for _ in $(seq 1 50); do
    (exec 3<> /dev/tcp/127.0.0.1/"$hook_port") 2> /dev/null && break
    sleep 0.1
done

# config.toml as it is, plus the partner's webhook (a table array has no environment variable).
cp config.toml "$work/config.toml"
cat >> "$work/config.toml" << EOF

[[webhooks]]
partner = "dev-partner"
url = "http://127.0.0.1:$hook_port/antaca/notifications"
secret = "$secret"
EOF
export ANTACA__DATABASE__URL=sqlite://$work/antaca.db
export ANTACA__TLS__DEV_DIRECTORY=$work/tls
export ANTACA__JWE__DEV_DIRECTORY=$work/jwe
export ANTACA__NETWORK__LISTEN=127.0.0.1:$iso_port
export ANTACA__HTTP__LISTEN=127.0.0.1:$http_port
export ANTACA__CARDS__PERSONALIZATION_DELAY_S=1
export ANTACA__NOTIFICATIONS__RETRY_BASE_MS=200
export ANTACA__LOG__LEVEL=warn
source tools/switch.sh
start_switch "$bin" "$work/switch.log" "$iso_port" --config "$work/config.toml"

api=https://localhost:$http_port
tls=$work/tls
started=$SECONDS

fail() {
    echo "FAIL $*" >&2
    exit 1
}

# call NAME STATUS METHOD PATH CHANNEL [BODY [CURL_ARGUMENT...]]: one request; its answer is left in
# $body (and $work/body). CHANNEL is "partner" (the dev-partner client certificate), "none", or a
# bearer token (an admin or a mobile session). A BODY is sent as JSON ("@FILE" reads a file).
call() {
    step=$1
    local want=$2 method=$3 path=$4 channel=$5 data=${6:-}
    shift $(($# < 6 ? $# : 6))
    local arguments=(-s -o "$work/body" -w '%{http_code}' --cacert "$tls/ca.pem" -X "$method")
    case $channel in
        partner) arguments+=(--cert "$tls/partner-dev-partner.pem" --key "$tls/partner-dev-partner-key.pem") ;;
        none) ;;
        *) arguments+=(-H "authorization: Bearer $channel") ;;
    esac
    if [ -n "$data" ]; then
        arguments+=(-H 'content-type: application/json' --data-binary "$data")
    fi
    local got
    got=$(curl "${arguments[@]}" "$@" "$api$path") || got="no answer (curl exit $?)"
    body=$(cat "$work/body")
    [ "$got" = "$want" ] || fail "$step: HTTP $got, expected $want: $body"
}

# expect [JQ_ARGUMENT...] FILTER: the last answer passes the jq FILTER (arguments before it go to jq,
# e.g. --argjson card 7); then the step is ok.
expect() {
    local filter=${!#}
    jq -e "${@:1:$#-1}" "$filter" <<< "$body" > /dev/null || fail "$step: the answer fails $filter: $body"
    echo "ok   $step"
}

# As expect, for a plaintext that holds card data: a failure does not print it.
expect_secret() {
    local filter=${!#}
    jq -e "${@:1:$#-1}" "$filter" <<< "$body" > /dev/null \
        || fail "$step: the decrypted answer fails $filter (not shown: it holds card data)"
    echo "ok   $step"
}

# open_answer: the last answer, a JWE to the client's key, decrypted into $body.
open_answer() {
    body=$(jwe open "$work/client-key.pem" < "$work/body") || fail "$step: cannot decrypt the answer"
}

# wait_for NAME SECONDS COMMAND...: retries COMMAND every 0.2 s until it succeeds.
wait_for() {
    local name=$1 deadline=$((SECONDS + $2))
    shift 2
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$name: not within the time allowed"
        sleep 0.2
    done
}

until curl -s -o /dev/null --cacert "$tls/ca.pem" "$api/health"; do
    [ $((SECONDS - started)) -lt 30 ] || fail "the HTTPS listener did not answer within 30 s"
    sleep 0.2
done

echo "== Open routes"
call "GET /health" 200 GET /health none
echo "ok   $step"
call "GET /metrics (Prometheus)" 200 GET /metrics none
grep -q '^# TYPE' "$work/body" || fail "$step: no metric families"
echo "ok   $step"
call "GET /openapi.json" 200 GET /openapi.json none
expect '.paths["/lifecycle/v1/users"].post'

echo "== The lifecycle API"
address='{"line1": "ul. Prosta 1", "city": "Warszawa", "postalCode": "00-001", "country": "PL"}'
call "the partner registers a user" 201 POST /lifecycle/v1/users partner \
    '{"externalId": "crm-0001", "email": "anna@example.com"}'
expect '.userId | type == "number"'
user=$(jq .userId <<< "$body")
call "a second user with the same externalId is refused" 409 POST /lifecycle/v1/users partner \
    '{"externalId": "crm-0001", "email": "anna@example.com"}'
expect '.code | type == "string"'
call "the user's KYC data, verified at once" 201 POST "/secure/customers/$user/register" partner '{
    "firstName": "Anna", "lastName": "Nowak", "birthDate": "1990-05-17", "nationality": "PL",
    "document": {"type": "ID_CARD", "number": "ABA300000", "country": "PL", "expiryDate": "2031-01-31"},
    "address": '"$address"'}'
expect '.status == "VERIFIED"'
call "GET the user: kycStatus VERIFIED" 200 GET "/lifecycle/v1/users/$user" partner
expect '.kycStatus == "VERIFIED"'

call "the partner submits a corporation for KYB" 201 POST /lifecycle/v1/corporations partner '{
    "name": "Acme Sp. z o.o.", "registrationNumber": "0000012345", "address": '"$address"',
    "documents": [{"type": "REGISTRY_EXTRACT", "url": "https://docs.example.com/krs.pdf",
                   "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}]}'
expect '.status == "SUBMITTED" and (.dcCorporationId | type == "number")'
corporation=$(jq .dcCorporationId <<< "$body")
call "the administrator logs in" 200 POST /admin/login none \
    '{"username": "admin", "password": "antaca-dev-admin"}'
expect '.sessionToken | type == "string"'
admin=$(jq -r .sessionToken <<< "$body")
call "a wrong password is refused" 401 POST /admin/login none \
    '{"username": "admin", "password": "not-the-password"}'
expect '.code | type == "string"'
call "GET /admin/kyc/reviews (nothing in review)" 200 GET /admin/kyc/reviews "$admin"
expect 'type == "array"'
call "the administrator approves the corporation" 200 POST "/admin/corporations/$corporation/approve" "$admin"
expect '.status == "APPROVED"'
call "the partner sees its history" 200 GET "/lifecycle/v1/corporations/$corporation" partner
expect '.status == "APPROVED" and ([.history[] | .to] | index("APPROVED") != null)'

call "the partner pairs the user's device" 201 POST "/secure/customers/$user/devices" partner \
    '{"deviceId": "phone-1"}'
expect '.sessionToken | type == "string"'
session=$(jq -r .sessionToken <<< "$body")
call "the app reads its user" 200 GET /customers/me "$session"
expect '.kycStatus == "VERIFIED"'
call "a request without a session is refused" 401 GET /customers/me none
expect '.code | type == "string"'

call "a EUR balance on the program dev-credit-eur" 201 POST "/secure/customers/$user/balances" partner \
    '{"currency": "EUR", "programId": "dev-credit-eur"}'
expect '.currency == "EUR" and .available == 0'
balance=$(jq .balanceId <<< "$body")
call "an administrator makes an operator" 201 POST /admin/users "$admin" \
    '{"username": "olaf.operator", "password": "operator-password-1", "role": "OPERATOR"}'
expect '.role == "OPERATOR"'
call "the operator logs in" 200 POST /admin/login none \
    '{"username": "olaf.operator", "password": "operator-password-1"}'
expect '.sessionToken | type == "string"'
operator=$(jq -r .sessionToken <<< "$body")
call "the partner's balances: one CREDIT in EUR" 200 GET /secure/partner/balances partner
expect '[.[] | select(.kind == "CREDIT" and .currency == "EUR")] | length == 1'
credit=$(jq '.[] | select(.kind == "CREDIT" and .currency == "EUR") | .balanceId' <<< "$body")
call "a reload the partner credit cannot cover: 409" 409 POST \
    "/secure/customers/$user/balances/$balance/reload" partner '{"amount": 10000}'
expect '.code == "PARTNER_FUNDS_INSUFFICIENT"'
call "the operator records the partner's bank transfer" 200 POST \
    "/admin/partners/dev-partner/balances/$credit/load" "$operator" '{"amount": 1000000}'
expect '.available == 1000000'
call "the user balance reloaded from the partner credit" 200 POST \
    "/secure/customers/$user/balances/$balance/reload" partner '{"amount": 10000}'
expect '.currency == "EUR" and .available == 10000'
call "the app creates a virtual card (masked)" 201 POST /customers/me/cards/virtual "$session" \
    "{\"balanceId\": $balance}"
expect '.status == "ACTIVE" and .kind == "VIRTUAL" and (.maskedPan | test("^[0-9]{6}[*]+[0-9]{4}$"))'
card=$(jq .cardId <<< "$body")
call "the partner locks it (7: suspected fraud)" 200 POST "/secure/customers/$user/cards/$card/lock" partner \
    '{"reason": 7}'
expect '.status == "LOCKED" and .lockReason == 7'
call "and unlocks it" 200 POST "/secure/customers/$user/cards/$card/unlock" partner
expect '.status == "ACTIVE"'
call "the balance lists the card, masked" 200 GET "/secure/customers/$user/balances/$balance" partner
expect --argjson card "$card" '[.cards[] | select(.cardId == $card and .status == "ACTIVE")] | length == 1'
call "the balance summary: users 100.00, wallet 10,000.00 EUR" 200 GET /admin/balances/summary "$admin"
expect 'any(.[]; .currency == "EUR" and .users == 10000 and .wallet == 1000000)'
call "a physical card ordered with a PIN" 201 POST "/secure/customers/$user/cards/physical" partner \
    "{\"balanceId\": $balance, \"pin\": \"4321\"}"
expect '.kind == "PHYSICAL" and .status == "ORDERED"'
physical=$(jq .cardId <<< "$body")
linked() {
    call "the physical card is LINKED once personalised" 200 GET "/secure/customers/$user/balances/$balance" partner
    jq -e --argjson card "$physical" 'any(.cards[]; .cardId == $card and .status == "LINKED")' <<< "$body" > /dev/null
}
wait_for "the physical card is LINKED once personalised" 10 linked
echo "ok   $step"
call "the partner activates it" 200 POST "/secure/customers/$user/cards/$physical/activate" partner
expect '.status == "ACTIVE"'

echo "== Corporate cards and partner balances"
call "a corporate balance for the approved corporation" 201 POST /secure/balances partner \
    "{\"dcCorporationId\": $corporation, \"currency\": \"EUR\", \"programId\": \"dev-credit-eur\"}"
expect '.currency == "EUR" and .available == 0'
corporate=$(jq .balanceId <<< "$body")
call "a corporate virtual card" 201 POST /secure/cards/virtual partner \
    "{\"dcCorporationId\": $corporation, \"balanceId\": $corporate}"
expect '.kind == "VIRTUAL" and .status == "ACTIVE"'
corporate_card=$(jq .cardId <<< "$body")
call "a corporate physical card" 201 POST /secure/cards/physical partner \
    "{\"dcCorporationId\": $corporation, \"balanceId\": $corporate}"
expect '.kind == "PHYSICAL" and .status == "ORDERED"'
corporate_physical=$(jq .cardId <<< "$body")
corporate_linked() {
    call "the corporate physical card is LINKED" 200 GET "/secure/balances/$corporate" partner
    jq -e --argjson card "$corporate_physical" 'any(.cards[]; .cardId == $card and .status == "LINKED")' \
        <<< "$body" > /dev/null
}
wait_for "the corporate physical card is LINKED" 10 corporate_linked
echo "ok   $step"
call "the partner activates it" 200 POST "/secure/cards/$corporate_physical/activate" partner
expect '.status == "ACTIVE"'
call "the corporate virtual card locked (7)" 200 POST "/secure/cards/$corporate_card/lock" partner '{"reason": 7}'
expect '.status == "LOCKED"'
call "and unlocked" 200 POST "/secure/cards/$corporate_card/unlock" partner
expect '.status == "ACTIVE"'
call "locked for good (1)" 200 POST "/secure/cards/$corporate_card/lock" partner '{"reason": 1}'
expect '.status == "LOCKED" and .lockReason == 1'
call "its unlock is refused" 409 POST "/secure/cards/$corporate_card/unlock" partner
expect '.code == "CARD_LOCK_IRREVERSIBLE"'
call "the card removed" 204 DELETE "/secure/cards/$corporate_card" partner
echo "ok   $step"
call "the partner opens a PLN deposit balance" 201 POST /secure/partner/balances partner \
    '{"kind": "DEPOSIT", "currency": "PLN"}'
expect '.kind == "DEPOSIT" and .currency == "PLN" and .partnerId == "dev-partner"'
call "an operator opens a USD credit balance for it" 201 POST /admin/partners/dev-partner/balances "$operator" \
    '{"kind": "CREDIT", "currency": "USD"}'
expect '.kind == "CREDIT" and .currency == "USD"'

echo "== Low-balance notifications"
call "the partner credit's threshold, just under what it has" 200 PUT \
    "/admin/partners/dev-partner/balances/$credit/threshold" "$admin" '{"lowBalanceThreshold": 989500}'
expect '.lowBalanceThreshold == 989500 and .belowThreshold == false'
call "a reload takes it below" 200 POST "/secure/customers/$user/balances/$balance/reload" partner \
    '{"amount": 1000}'
expect '.available == 11000'
call "the partner credit reads belowThreshold" 200 GET /secure/partner/balances partner
expect --argjson id "$credit" '.[] | select(.balanceId == $id) | .available == 989000 and .belowThreshold'
delivered() {
    call "the notification delivered on the second attempt" 200 GET "/secure/partner/notifications?status=delivered" partner
    jq -e 'length == 1' <<< "$body" > /dev/null
}
wait_for "the notification delivered on the second attempt" 15 delivered
expect --argjson id "$credit" '.[0] | .event == "PARTNER_BALANCE_LOW" and .balanceId == $id and .attempts == 2
    and .payload.available == 989000 and .payload.lowBalanceThreshold == 989500'
notification=$(jq -r '.[0].id' <<< "$body")
call "the admin outbox: nothing undelivered" 200 GET "/admin/notifications?status=undelivered" "$admin"
expect 'length == 0'
call "the admin outbox: the delivery" 200 GET /admin/notifications "$admin"
expect --arg id "$notification" 'any(.[]; .id == $id and .status == "DELIVERED")'
step="the webhook got it twice, signed, with its id"
body=$(jq -s . "$work/hook.jsonl")
expect --arg id "$notification" 'length == 2 and ([.[].status] == [503, 200]) and all(.[]; .signed and .id == $id
    and .body.id == $id and .body.event == "PARTNER_BALANCE_LOW" and .body.balanceKind == "CREDIT")'

echo "== Sensitive card data"
call "the platform's public key" 200 GET /encryption/public-key none
expect '(.kid | type == "string") and .jwk.kty == "RSA"'
cp "$work/body" "$work/platform-key.json"
kid=$(jq -r .kid <<< "$body")
call "/.well-known/jwks.json lists it" 200 GET /.well-known/jwks.json none
expect --arg kid "$kid" 'any(.keys[]; .kid == $kid)'
jwe keygen "$work/client-key.pem"
public_key=$(jwe public-key "$work/client-key.pem")
jwe seal "$work/platform-key.json" '{"pin": "2580"}' > "$work/pin.json"
call "a PIN in plain JSON is refused" 400 POST "/customers/me/cards/$card/pin" "$session" '{"pin": "2580"}'
expect '.code == "ENCRYPTION_REQUIRED"'
call "the app sets the card's PIN, encrypted" 204 POST "/customers/me/cards/$card/pin" "$session" \
    "@$work/pin.json" -H "Public-Key: $public_key" -H "Encrypted-Request: true"
echo "ok   $step"
call "the card's full data, encrypted to the app's key" 200 GET "/customers/me/cards/$card" "$session" "" \
    -H "Public-Key: $public_key" -H "Encrypt-Response: true"
expect '(.payload | type == "string") and (has("cardNo") | not)'
open_answer
step="the plaintext: the card with cardNo, cvv, exp"
expect_secret --argjson card "$card" '.cardId == $card and (.cardNo | test("^[0-9]{16}$"))
    and (.cvv | test("^[0-9]{3}$")) and (.exp | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))'
pan=$(jq -r .cardNo <<< "$body")
expiry=$(jq -r .expiry <<< "$body")
cvv=$(jq -r .cvv <<< "$body")
authorize() { # authorize NAME PIN DE39: a 2100 with the PIN over ISO 8583 answers DE39
    step=$1
    local answer
    answer=$(jwe authorize "$iso_port" "$pan" "$expiry" "$2") || fail "$step: no answer"
    [[ $answer == *"DE39=$3 "* ]] || fail "$step: $answer, expected DE39=$3"
    echo "ok   $step"
}
authorize "ISO 8583 with that PIN: approved (0000)" 2580 0000
authorize "another PIN: declined (1017)" 1111 1017
call "the card locked (7)" 200 POST "/secure/customers/$user/cards/$card/lock" partner '{"reason": 7}'
expect '.status == "LOCKED"'
authorize "a locked card is declined (1002)" 2580 1002
call "unlocked" 200 POST "/secure/customers/$user/cards/$card/unlock" partner
expect '.status == "ACTIVE"'
authorize "approved again" 2580 0000
call "a new CVC2, encrypted" 200 POST "/customers/me/cards/$card/cvv" "$session" "" \
    -H "Public-Key: $public_key" -H "Encrypt-Response: true"
expect '.payload | type == "string"'
open_answer
step="the plaintext: another CVC2"
expect_secret --arg old "$cvv" '(.cvv | test("^[0-9]{3}$")) and .cvv != $old'
call "the admin panel resets a CVV and sees only the masked card" 200 POST "/admin/cards/$card/cvv" "$admin" "" \
    -H "Public-Key: $public_key" -H "Encrypt-Response: true"
open_answer
expect_secret --argjson card "$card" '.cardId == $card and (has("cardNo") | not) and (has("cvv") | not)'
call "a new virtual card answered with its full data, encrypted" 201 POST /customers/me/cards/virtual "$session" \
    "{\"balanceId\": $balance}" -H "Public-Key: $public_key" -H "Encrypt-Response: true"
open_answer
expect_secret '.status == "ACTIVE" and (.cardNo | test("^[0-9]{16}$"))'
jwe seal "$work/platform-key.json" \
    "{\"dcCorporationId\": $corporation, \"balanceId\": $corporate, \"pin\": \"4711\"}" > "$work/order.json"
call "a corporate physical card ordered with its PIN, encrypted" 201 POST /secure/cards/physical_with_pin partner \
    "@$work/order.json" -H "Public-Key: $public_key" -H "Encrypted-Request: true"
open_answer
expect_secret '.kind == "PHYSICAL" and .status == "ORDERED"'

echo "== Fees and currency conversion"
call "a fee schedule for dev-credit-eur" 200 PUT /admin/programs/dev-credit-eur/fees "$admin" \
    '{"schedule": {"enabled": true, "cardCreation": "2.50", "pos": {"fixed": "0.10", "percent": "1"},
      "periodic": {"period": "monthly", "amount": "1.99"}}}'
expect '.programId == "dev-credit-eur" and .current.schedule.cardCreation == "2.50"'
call "the partner reads it" 200 GET /secure/programs/dev-credit-eur/fees partner
expect '.current.schedule.enabled == true'
call "an FX rate USD→EUR" 201 POST /admin/fx-rates "$operator" '{"from": "USD", "to": "EUR", "rate": "0.9215"}'
expect '.from == "USD" and .to == "EUR" and .rate == "0.9215"'
call "the balance before a card" 200 GET "/secure/customers/$user/balances/$balance" partner
expect '.available | type == "number"'
before=$(jq .available <<< "$body")
call "a card created now pays the card creation fee" 201 POST /customers/me/cards/virtual "$session" \
    "{\"balanceId\": $balance}"
expect '.status == "ACTIVE"'
call "the balance is 2.50 lower" 200 GET "/secure/customers/$user/balances/$balance" partner
expect --argjson before "$before" '.available == $before - 250'
today=$(date -u +%F)
call "the fee report" 200 GET "/admin/programs/dev-credit-eur/fee-report?from=$today&to=$today" "$admin"
expect 'any(.byType[]; .feeType == "card_creation" and .charged == 250 and .entries == 1)'

echo "all steps passed in $((SECONDS - started)) s"
