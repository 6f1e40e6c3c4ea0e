# A JWE client for the Antaca API's sensitive card data, on jwcrypto (an
# independent JOSE implementation), plus one ISO 8583 authorization with a PIN
# (pyiso8583) to see the switch check the PIN that was set.
#
#   python3 -m venv .venv && .venv/bin/pip install jwcrypto pyiso8583
#   jwe_client.py keygen client-key.pem              # the client's RSA key pair (private, PEM)
#   jwe_client.py public-key client-key.pem          # its public key, base64 DER (the Public-Key header)
#   jwe_client.py seal platform-key.json '{"pin": "1234"}'   # {"payload": JWE} to the platform's key
#   jwe_client.py open client-key.pem < answer.json  # the plaintext of an encrypted answer
#   jwe_client.py authorize PORT PAN EXPIRY PIN [ZONE_PIN_KEY_HEX]   # a 2100 with DE 52; prints DE 39
import base64, copy, json, socket, struct, sys

from jwcrypto import jwe, jwk


def keygen(path):
    key = jwk.JWK.generate(kty="RSA", size=2048)
    with open(path, "wb") as out:
        out.write(key.export_to_pem(private_key=True, password=None))


def load(path):
    with open(path, "rb") as pem:
        return jwk.JWK.from_pem(pem.read())


def public_key(path):
    from cryptography.hazmat.primitives import serialization
    der = load(path).get_op_key("encrypt").public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    print(base64.b64encode(der).decode())


def seal(platform_key_json, plaintext):
    with open(platform_key_json) as source:
        published = json.load(source)
    key = jwk.JWK(**published["jwk"])
    header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": published["kid"]}
    token = jwe.JWE(plaintext.encode(), protected=json.dumps(header))
    token.add_recipient(key)
    print(json.dumps({"payload": token.serialize(compact=True)}))


def open_answer(path):
    answer = json.load(sys.stdin)
    if "payload" not in answer:
        sys.exit(f"not an encrypted answer: {json.dumps(answer)}")
    token = jwe.JWE()
    token.deserialize(answer["payload"], key=load(path))
    print(token.payload.decode())


def pin_block(pin, pan, zone_pin_key_hex):
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    except ImportError:
        from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes
    clear = bytes.fromhex(f"0{len(pin):X}{pin:F<14}")
    pan_field = bytes.fromhex("0000" + pan[-13:-1])
    block = bytes(a ^ b for a, b in zip(clear, pan_field))
    key = bytes.fromhex(zone_pin_key_hex)
    if len(key) == 16:  # a double-length key is K1 K2 K1 as a triple-length one
        key += key[:8]
    encryptor = Cipher(TripleDES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def authorize(port, pan, expiry, pin, zone_pin_key_hex="0123456789ABCDEFFEDCBA9876543210"):
    import random
    import iso8583
    from iso8583.specs import default_ascii as base
    spec = copy.deepcopy(base)
    fixed = lambda n: {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": n, "desc": "", "len_count": "bytes"}
    var = lambda ll, mx: {"data_enc": "ascii", "len_enc": "ascii", "len_type": ll, "max_len": mx, "desc": "", "len_count": "bytes"}
    binary = lambda n: {"data_enc": "b", "len_enc": "ascii", "len_type": 0, "max_len": n, "desc": "", "len_count": "bytes"}
    spec["h"]["max_len"] = 0
    spec["t"], spec["p"], spec["1"], spec["52"] = fixed(4), binary(8), binary(8), binary(8)
    for field, definition in {"2": var(2, 19), "3": fixed(6), "4": fixed(12), "7": fixed(10), "11": fixed(6),
                              "12": fixed(12), "14": fixed(4), "22": fixed(3), "24": fixed(3), "26": fixed(4),
                              "32": var(2, 11), "37": fixed(12), "38": fixed(6), "39": fixed(4), "41": fixed(8),
                              "42": fixed(15), "49": fixed(3), "54": var(3, 120)}.items():
        spec[field] = definition
    stan = f"{random.randrange(1, 999999):06d}"
    doc = {"t": "2100", "2": pan, "3": "000000", "4": "000000000100", "7": "1125001500", "11": stan,
           "12": "261125001500", "14": expiry, "22": "051", "24": "100", "26": "6011", "32": "12345678",
           "37": "RRN" + stan + "000", "41": "ATM00001", "42": "ATM-OPERATOR-01", "49": "978",
           "52": pin_block(pin, pan, zone_pin_key_hex).hex().upper()}  # pyiso8583 takes binary fields as hex
    raw, _ = iso8583.encode(doc, spec)
    with socket.create_connection(("127.0.0.1", int(port))) as sock:
        sock.sendall(struct.pack(">H", len(raw)) + bytes(raw))
        length = struct.unpack(">H", sock.recv(2))[0]
        data = b""
        while len(data) < length:
            data += sock.recv(length - len(data))
    answer, _ = iso8583.decode(data, spec)
    print(f"{answer['t']} DE39={answer.get('39')} DE38={answer.get('38', '-')}")


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    {"keygen": keygen, "public-key": public_key, "seal": seal, "open": open_answer,
     "authorize": authorize}[command](*arguments)
