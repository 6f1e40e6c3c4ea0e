# A third-party ISO 8583 client (pyiso8583, https://pypi.org/project/pyiso8583/)
# against the Antaca switch: its own codec, configured from the contract's
# field table, sends the messages of network-interface.md and prints the answers.
#
#   pip install pyiso8583
#   antaca provision --cards 10 --out data/cards.jsonl      # with the switch stopped
#   antaca serve &
#   python3 tools/interop/pyiso8583_client.py 8583 data/cards.jsonl
import json, socket, struct, sys, copy
import iso8583
from iso8583.specs import default_ascii as base

spec = copy.deepcopy(base)
def fixed(n):
    return {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": n, "desc": "", "len_count": "bytes"}
def var(ll, mx):
    return {"data_enc": "ascii", "len_enc": "ascii", "len_type": ll, "max_len": mx, "desc": "", "len_count": "bytes"}
spec["h"]["max_len"] = 0
spec["t"] = fixed(4)
spec["p"] = {"data_enc": "b", "len_enc": "ascii", "len_type": 0, "max_len": 8, "desc": "Bitmap, primary", "len_count": "bytes"}
spec["1"] = {"data_enc": "b", "len_enc": "ascii", "len_type": 0, "max_len": 8, "desc": "Bitmap, secondary", "len_count": "bytes"}
for f, d in {"2": var(2, 19), "3": fixed(6), "4": fixed(12), "6": fixed(12), "7": fixed(10), "11": fixed(6),
             "12": fixed(12), "14": fixed(4), "22": fixed(3), "24": fixed(3), "26": fixed(4), "32": var(2, 11),
             "37": fixed(12), "38": fixed(6), "39": fixed(4), "41": fixed(8), "42": fixed(15), "43": var(2, 99),
             "48": var(3, 999), "49": fixed(3), "51": fixed(3), "54": var(3, 120), "56": var(2, 41), "91": fixed(1)}.items():
    spec[f] = d
spec["52"] = {"data_enc": "b", "len_enc": "ascii", "len_type": 0, "max_len": 8, "desc": "PIN", "len_count": "bytes"}

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def exchange(doc, label):
    raw, _ = iso8583.encode(doc, spec)
    sock.sendall(struct.pack(">H", len(raw)) + bytes(raw))
    n = struct.unpack(">H", sock.recv(2))[0]
    data = b""
    while len(data) < n:
        data += sock.recv(n - len(data))
    answer, _ = iso8583.decode(data, spec)
    print(f"{label:45s} -> {answer['t']} DE39={answer.get('39')} DE38={answer.get('38','-')} DE54={answer.get('54','-')} DE11={answer.get('11')}")
    return answer

cards = [json.loads(line) for line in open(sys.argv[2])]
card = cards[1]
stan = [100]
def nxt():
    stan[0] += 1
    return f"{stan[0]:06d}"
exchange({"t": "2804", "7": "1125001500", "11": nxt(), "24": "801"}, "2804 sign-on")
exchange({"t": "2804", "7": "1125001500", "11": nxt(), "24": "831"}, "2804 echo test")
auth = {"t": "2100", "2": card["pan"], "3": "000000", "4": "000000001234", "7": "1125001500", "11": nxt(),
        "12": "261125001500", "14": card["expiry"], "22": "812", "24": "100", "26": "5411", "32": "12345678",
        "37": "RRN000000001", "41": "TERM0001", "42": "MERCHANT0000001", "48": "9203" + card["cvc2"], "49": "978"}
exchange(auth, "2100 12.34 EUR with DE 14 + CVC2")
exchange(auth, "2100 the same again (duplicate)")
exchange(dict(auth, t="2101"), "2101 repeat")
exchange(dict(auth, **{"11": nxt(), "48": "9203000" if card["cvc2"] != "000" else "9203111"}), "2100 wrong CVC2")
exchange(dict(auth, **{"11": nxt(), "2": "5399990000000000"}), "2100 unknown card")
exchange(dict(auth, **{"11": nxt(), "4": "999999999999"}), "2100 above the funds")
rev = {"t": "2420", "2": card["pan"], "3": "000000", "4": "000000000234", "11": nxt(), "12": "261125001600",
       "24": "401", "32": "12345678", "49": "978", "56": "2100" + auth["11"] + auth["12"] + "0812345678"}
exchange(rev, "2420 partial reversal leaving 2.34")
exchange(dict(auth, **{"11": nxt(), "3": "300000", "4": "000000000000"}), "2100 balance inquiry")
exchange({"t": "2304", "2": card["pan"], "11": nxt(), "12": "261125001700", "32": "12345678", "48": "930201", "91": "1"}, "2304 stop list, reason 1 (lost)")
exchange(dict(auth, **{"11": nxt()}), "2100 after the lock")
