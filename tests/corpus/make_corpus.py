#!/usr/bin/env python3
"""Writes the content corpus (tests/corpus/*.eml). Run from anywhere:
   python3 tests/corpus/make_corpus.py
The password-protected ZIP is made by the real `zip -P` (Info-ZIP,
ZipCrypto: what PPAP mail carries), the others with Python's zipfile.
Expected rule ids live in expected.toml, written by hand, not by this."""
import base64, io, os, subprocess, tempfile, zipfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
RECEIVED_DATE = "Tue, 18 Nov 2025 09:30:12 +0900"
DATE = "Tue, 18 Nov 2025 09:29:58 +0900"


def received(host="mail.example.com", ip="192.0.2.25"):
    return (f"Received: from {host} ({host} [{ip}])\r\n"
            f"\tby mx.mailscore.example with ESMTPS id 4dQx1; {RECEIVED_DATE}")


def message(headers, body):
    text = "\r\n".join(h for h in headers if h) + "\r\n\r\n" + body
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def std(frm, subject, to="Bob Tanaka <bob@example.net>", mid=None, date=DATE, extra=()):
    mid = mid or f"<{zlib.crc32(subject.encode())}.{len(subject)}@{frm.split('@')[-1].strip('>')}>"
    return [received(), f"Date: {date}", f"From: {frm}", f"To: {to}",
            f"Subject: {subject}", f"Message-ID: {mid}", "MIME-Version: 1.0", *extra]


def alternative(text, html, boundary="alt-7f3a9c"):
    return (f"Content-Type: multipart/alternative; boundary=\"{boundary}\"",
            f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
            f"--{boundary}\r\nContent-Type: text/html; charset=UTF-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{html}\r\n--{boundary}--\r\n")


def with_attachment(text, name, ctype, data, boundary="mix-2b81e0"):
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return (f"Content-Type: multipart/mixed; boundary=\"{boundary}\"",
            f"--{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n"
            f"--{boundary}\r\nContent-Type: {ctype}; name=\"{name}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
            f"Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--{boundary}--\r\n")


def plain(text, charset="UTF-8"):
    return (f"Content-Type: text/plain; charset={charset}", text)


def html_only(html):
    return ("Content-Type: text/html; charset=UTF-8", html)


def zip_bytes(files):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            z.writestr(name, data)
    return out.getvalue()


def ppap_zip():
    with tempfile.TemporaryDirectory() as d:
        pdf = os.path.join(d, "invoice.pdf")
        with open(pdf, "wb") as f:
            f.write(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
        out = os.path.join(d, "invoice.zip")
        subprocess.run(["zip", "-q", "-j", "-P", "infected2025", out, pdf], check=True)
        with open(out, "rb") as f:
            return f.read()


DOCX_PARTS = [
    ("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'),
    ("word/document.xml", '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>'),
]
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run in DOS mode.\r\n"

NEWSLETTER_HTML = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Shop news</title>
<style>body{font-family:sans-serif}</style></head><body>
<h1>November at Example Shop</h1>
<p><img src="https://shop.example.com/img/logo.png" alt="Example Shop" width="120"></p>
<p>Our winter collection is here: warm coats, wool scarves and boots made to last.
Members get free delivery on every order until the end of the month.</p>
<p><a href="https://shop.example.com/winter?utm_source=news">See the winter collection</a></p>
<p>You receive this because you subscribed at shop.example.com.
<a href="https://shop.example.com/unsubscribe/a81f">Unsubscribe</a></p>
</body></html>"""
NEWSLETTER_TEXT = """November at Example Shop

Our winter collection is here: warm coats, wool scarves and boots made to last.
Members get free delivery on every order until the end of the month.

See the winter collection: https://shop.example.com/winter?utm_source=news

You receive this because you subscribed at shop.example.com.
Unsubscribe: https://shop.example.com/unsubscribe/a81f"""
UNSUB = ["List-Unsubscribe: <mailto:unsubscribe@shop.example.com?subject=a81f>, <https://shop.example.com/unsubscribe/a81f>",
         "List-Unsubscribe-Post: List-Unsubscribe=One-Click", "Precedence: bulk"]

LETTER = """Hi Bob,

Thanks for lunch yesterday. As promised, here are the notes from the
meeting: we start the migration on the 1st and keep the old server until
the end of the year. Let me know if Thursday works for the review.

Best,
Alice"""


def corpus():
    m = {}
    ct, body = alternative(NEWSLETTER_TEXT, NEWSLETTER_HTML)
    m["ham_newsletter_one_click"] = message(std("Example Shop <news@shop.example.com>", "November news: the winter collection", extra=UNSUB + [ct]), body)
    ct, body = plain(LETTER)
    m["ham_personal_plain"] = message(std("Alice Sato <alice@example.com>", "Notes from yesterday", extra=[ct]), body)
    jp = "ボブさん\n\n昨日はありがとうございました。会議のメモを送ります。\n移行は1日に開始します。\n\n佐藤"
    jp_b64 = base64.encodebytes(jp.encode("iso2022_jp")).decode()
    subj = "=?ISO-2022-JP?B?" + base64.b64encode("会議のメモ".encode("iso2022_jp")).decode() + "?="
    m["ham_japanese_iso2022jp"] = message(std("佐藤 <sato@example.co.jp>".replace("佐藤", "=?UTF-8?B?5L2Q6Jek?="), subj,
        extra=["Content-Type: text/plain; charset=ISO-2022-JP", "Content-Transfer-Encoding: base64"]), jp_b64)
    receipt_html = """<html><body><p>Thank you for your order #10442.</p>
<table><tr><td>Wool scarf</td><td>3,800 JPY</td></tr><tr><td>Delivery</td><td>free</td></tr></table>
<p>Track it at <a href="https://shop.example.com/orders/10442">shop.example.com/orders/10442</a>.</p>
<p>Questions? Reply to this mail or visit our help pages.</p></body></html>"""
    receipt_text = "Thank you for your order #10442.\n\nWool scarf  3,800 JPY\nDelivery    free\n\nTrack it at https://shop.example.com/orders/10442\n"
    ct, body = alternative(receipt_text, receipt_html)
    m["ham_receipt_html_and_text"] = message(std("Example Shop <orders@shop.example.com>", "Your order #10442", extra=[ct]), body)
    ct, body = plain("Sounds good, Thursday it is.\n\nThe review doc is at https://docs.example.com/review/q4\n\nOn Mon, Alice wrote:\n> Let me know if Thursday works for the review.\n")
    m["ham_reply_thread"] = message(std("Bob Tanaka <bob@example.net>", "Re: Notes from yesterday", to="Alice Sato <alice@example.com>",
        extra=["In-Reply-To: <notes.1@example.com>", "References: <notes.1@example.com>", ct]), body)

    # Phishing shapes.
    ct, body = html_only('<html><body><p>Dear customer,</p><p>Your account has been limited. Please confirm your details within 24 hours '
        'or it will be closed.</p><p><a href="http://paypal-login.example.net/verify">https://www.paypal.com/signin</a></p>'
        '<p>Thank you, PayPal</p></body></html>')
    m["phish_link_text_mismatch"] = message(std("PayPal <service@paypal-support.example>", "Your account has been limited", extra=[ct]), body)
    ct, body = plain("Your mailbox is almost full. Sign in to keep receiving mail.\n\nIT desk\n")
    m["phish_display_name_address"] = message(std('"security@mybank.example" <alerts@random-host.example>', "Mailbox almost full", extra=[ct]), body)
    ct, body = plain("Your parcel could not be delivered. Reply with your address to reschedule.\n")
    m["phish_display_name_domain"] = message(std('"Amazon.co.jp Support" <no-reply@shop-notice.example>', "Delivery problem", extra=[ct]), body)
    ct, body = plain("We noticed a new sign-in to your account. If this was not you, contact us.\n")
    m["phish_lookalike_brand"] = message(std("PayPal <service@paypa1.com>", "New sign-in to your account", extra=[ct]), body)
    m["phish_mixed_script_domain"] = message(std("PayPal <service@xn--pypal-4ve.com>", "Security notice", extra=[ct]), body)
    ct, body = plain("Neue Bücher sind da. Besuchen Sie uns im Laden.\n")
    m["idn_sender"] = message(std("Buchladen <info@xn--bcher-kva.example>", "Neue Bücher", extra=["Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: 8bit"]), body)
    ct, body = plain("Are you at your desk? I need you to handle a payment for me today, discreetly.\n\nSent from my phone\n")
    m["phish_reply_to_other_domain"] = message(std("Ken Suzuki <ceo@example.com>", "Quick favour", extra=["Reply-To: ken.suzuki.ceo@freemail.example", ct]), body)

    # Spam shapes.
    ct, body = plain("Claim your prize today. Offer ends soon.\n")
    m["spam_shouting_subject"] = message(std("Prize Team <win@prizes.example>", "FREE MONEY NOW!!! $$$", extra=[ct]), body)
    ct, body = html_only('<html><body><a href="https://deals.example/sale"><img src="https://deals.example/sale.jpg" alt="Sale" width="600"></a></body></html>')
    m["spam_image_only"] = message(std("Deals <deals@deals.example>", "This week only", extra=[ct]), body)
    ct, body = plain("Your invoice is ready: https://bit.ly/3xAmPl3\n")
    m["spam_url_shortener"] = message(std("Billing <billing@invoices.example>", "Invoice ready", extra=[ct]), body)
    ct, body = plain("Verify your account at http://192.0.2.44/login.php before it expires.\n")
    m["spam_raw_ip_link"] = message(std("Support <support@account-check.example>", "Verify your account", extra=[ct]), body)
    links = "\n".join(f"Deal {i}: https://deals.example/item/{i}" for i in range(1, 31))
    ct, body = plain("Thirty deals for you this week:\n\n" + links + "\n")
    m["spam_many_links"] = message(std("Deals <deals@deals.example>", "30 deals this week", extra=[ct]), body)
    ct, body = plain("This is the GTUBE, the Generic Test for Unsolicited Bulk Email.\n\n" + GTUBE + "\n")
    m["gtube"] = message(std("Tester <test@example.com>", "GTUBE test", extra=[ct]), body)

    # HTML problems (all with a text alternative).
    ct, body = alternative("Please log in to continue.", '<html><body><p>Please log in to continue.</p><form action="https://forms.example.com/login" method="post">'
        '<input name="user"><input type="password" name="pass"><button>Log in</button></form><script>document.forms[0].user.focus()</script></body></html>')
    m["html_forbidden_tags"] = message(std("Portal <portal@example.com>", "Log in to continue", extra=[ct]), body)
    ct, body = alternative("Our opening hours change in December.", '<html><body><p>Our opening hours change in December.</p>'
        '<div style="display:none">cheap meds viagra casino bonus winner</div></body></html>')
    m["html_hidden_text"] = message(std("Library <news@library.example.org>", "Opening hours in December", extra=[ct]), body)
    gallery_text = ("Photos from the company trip to Hakone, sixteen of them. Thank you all for coming; "
                    "the hot springs, the lake cruise and the ropeway were a highlight of the year. ") * 3
    imgs = "".join(f'<p><img src="https://photos.example.com/hakone/{i}.jpg" width="300"></p>' for i in range(1, 17))
    ct, body = alternative(gallery_text, f"<html><body><p>{gallery_text}</p>{imgs}</body></html>")
    m["html_many_images_no_alt"] = message(std("Photo Club <photos@example.com>", "Trip photos", extra=[ct]), body)
    cell = '<td style="padding:0;margin:0;border:0;font-family:Helvetica,Arial,sans-serif;font-size:1px;line-height:1px;mso-line-height-rule:exactly"></td>'
    markup = "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" width=\"100%\">" + ("<tr>" + cell * 4 + "</tr>") * 12 + "</table>"
    ct, body = alternative("Season greetings from all of us.", f"<html><body>{markup}<p>Season greetings from all of us.</p>{markup}</body></html>")
    m["html_low_text_ratio"] = message(std("Team <team@example.com>", "Season greetings", extra=[ct]), body)

    # Attachments.
    note = "Please find the file attached."
    ct, body = with_attachment(note, "setup.exe", "application/octet-stream", EXE)
    m["attachment_executable"] = message(std("IT <it@example.com>", "Installer", extra=[ct]), body)
    ct, body = with_attachment(note, "invoice.pdf.exe", "application/pdf", EXE)
    m["attachment_double_extension"] = message(std("Accounts <accounts@example.com>", "Invoice 2025-11", extra=[ct]), body)
    docm = zip_bytes(DOCX_PARTS + [("word/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 56)])
    ct, body = with_attachment(note, "report.docm", "application/vnd.ms-word.document.macroEnabled.12", docm)
    m["attachment_docm"] = message(std("Finance <finance@example.com>", "Quarterly report", extra=[ct]), body)
    ct, body = with_attachment(note, "report.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docm)
    m["attachment_docx_with_vba"] = message(std("Finance <finance@example.com>", "Quarterly report (docx)", extra=[ct]), body)
    plain_docx = zip_bytes(DOCX_PARTS)
    ct, body = with_attachment(note, "minutes.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", plain_docx)
    m["ham_attachment_docx"] = message(std("Alice Sato <alice@example.com>", "Minutes", extra=[ct]), body)
    ct, body = with_attachment("The invoice is attached. The password follows in a separate mail.", "invoice.zip", "application/zip", ppap_zip())
    m["ppap_encrypted_zip"] = message(std("Accounts <accounts@example.com>", "Invoice (password in next mail)", extra=[ct]), body)
    ct, body = with_attachment(note, "invoice.zip", "application/zip", zip_bytes([("invoice.js", 'WScript.Echo("hi")')]))
    m["zip_with_script"] = message(std("Accounts <accounts@example.com>", "Invoice", extra=[ct]), body)

    # Header problems.
    ct, body = plain("Hello, a message from a script that forgot its headers.\n")
    hdrs = [h for h in std("Cron <cron@example.com>", "Nightly job", extra=[ct]) if not h.startswith(("Date:", "Message-ID:"))]
    m["missing_date_and_message_id"] = message(hdrs, body)
    hdrs = [received(), "Date: yesterday afternoon", "From: Cron <cron@example.com>", "Message-ID: 12345", "MIME-Version: 1.0", ct]
    m["bad_date_message_id_no_to_subject"] = message(hdrs, body)
    m["date_in_future"] = message(std("Alice Sato <alice@example.com>", "Planning", date="Sat, 22 Nov 2025 10:00:00 +0900", extra=[ct]), body)
    m["date_in_past"] = message(std("Alice Sato <alice@example.com>", "Old news", date="Mon, 10 Nov 2025 10:00:00 +0900", extra=[ct]), body)
    hdrs = [h if not h.startswith("From:") else "From: Customer Service" for h in std("x@example.com", "Account update", extra=[ct])]
    m["from_unparseable"] = message(hdrs, body)
    hdrs = [h for h in std("x@example.com", "No sender", extra=[ct]) if not h.startswith("From:")]
    m["from_missing"] = message(hdrs, body)
    hdrs = std("Alice Sato <alice@example.com>", "Two senders", extra=[ct])
    hdrs.insert(3, "From: Billing <billing@example.com>")
    m["from_multiple"] = message(hdrs, body)
    ct, body = plain("Hello, this comes from a newsletter system.\n")
    m["return_path_unrelated"] = message(["Return-Path: <bounce-8812@esp-mailer.example>"] + std("Example Shop <news@shop.example.com>", "Store hours", extra=[ct]), body)

    # MIME problems.
    body = ("--mix-broken\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nThe attachment follows.\r\n"
            "--mix-broken\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n")
    m["mime_unclosed_boundary"] = message(std("Alice Sato <alice@example.com>", "The file", extra=['Content-Type: multipart/mixed; boundary="mix-broken"']), body)
    m["missing_charset"] = message(std("佐藤 <sato@example.co.jp>".replace("佐藤", "Sato"), "Meeting notes",
        extra=["Content-Type: text/plain", "Content-Transfer-Encoding: 8bit"]), "会議のメモを送ります。\n移行は1日に開始します。\n")
    # A Subject in raw Shift_JIS bytes, as old Japanese systems send it.
    raw = message(std("Sato <sato@example.co.jp>", "SUBJECT-PLACEHOLDER",
        extra=["Content-Type: text/plain; charset=UTF-8", "Content-Transfer-Encoding: 8bit"]), "会議のメモを送ります。\n")
    m["subject_raw_shift_jis"] = raw.encode("utf-8").replace(b"SUBJECT-PLACEHOLDER", "会議のメモ".encode("shift_jis"))

    # Bulk headers.
    ct, body = alternative(NEWSLETTER_TEXT, NEWSLETTER_HTML)
    m["bulk_without_unsubscribe"] = message(std("Example Shop <news@shop.example.com>", "November news", extra=["Precedence: bulk", ct]), body)
    m["bulk_https_without_one_click"] = message(std("Example Shop <news@shop.example.com>", "November news", extra=[
        "List-Unsubscribe: <https://shop.example.com/unsubscribe/a81f>", "Precedence: bulk", ct]), body)
    m["list_unsubscribe_invalid"] = message(std("Example Shop <news@shop.example.com>", "November news", extra=[
        "List-Unsubscribe: http://shop.example.com/unsubscribe", ct]), body)
    m["one_click_without_https"] = message(std("Example Shop <news@shop.example.com>", "November news", extra=[
        "List-Unsubscribe: <mailto:unsubscribe@shop.example.com>", "List-Unsubscribe-Post: List-Unsubscribe=One-Click", ct]), body)

    # FISC profile (checked with --content-profile fisc).
    bank_text = ("いつもご利用ありがとうございます。\n12月1日(月) 2:00〜6:00 はシステムメンテナンスのため、"
                 "インターネットバンキングをご利用いただけません。\n詳しくは、ブックマークまたは公式アプリからお知らせをご確認ください。\n\nみらい銀行")
    ct, body = plain(bank_text)
    m["fisc_bank_plain"] = message(std("=?UTF-8?B?44G/44KJ44GE6YqA6KGM?= <info@mirai-bank.example>", "=?UTF-8?B?44Oh44Oz44OG44OK44Oz44K544Gu44GK55+l44KJ44Gb?=",
        extra=[ct, "Content-Transfer-Encoding: 8bit"]), body)
    bank_html = ("<html><body><p>いつもご利用ありがとうございます。</p><p>12月1日 2:00〜6:00 はメンテナンスのため、インターネットバンキングをご利用いただけません。</p>"
                 '<p><a href="https://www.mirai-bank.example/info/maintenance">詳しくはこちら</a></p><p>みらい銀行</p></body></html>')
    ct, body = alternative(bank_text + "\n\nhttps://www.mirai-bank.example/info/maintenance", bank_html)
    m["fisc_bank_html_with_link"] = message(std("=?UTF-8?B?44G/44KJ44GE6YqA6KGM?= <info@mirai-bank.example>", "=?UTF-8?B?44Oh44Oz44OG44OK44Oz44K544Gu44GK55+l44KJ44Gb?=",
        extra=[ct]), body)
    return m


if __name__ == "__main__":
    for name, text in corpus().items():
        with open(os.path.join(HERE, name + ".eml"), "wb") as f:
            f.write(text if isinstance(text, bytes) else text.encode("utf-8"))
    print(len(corpus()), "messages")
