"""What the unsubscribe pages say, in each language an issue may be written in.

`{address}` is the masked address, `{list}` the list's name (or `the_list` without one), `{mailto}`
the address that takes unsubscribe requests by mail. The texts hold no markup: the page escapes them
and places the values.
"""

from __future__ import annotations

from newsletter.model import Language

WORDS: dict[Language, dict[str, str]] = {
    "nl": {
        "ask_heading": "Uitschrijven",
        "ask_text": "Wil je {address} uitschrijven voor {list}? Je krijgt daarna geen nieuwsbrieven meer.",
        "ask_note": "Er is nog niets veranderd: pas met deze knop schrijf je je uit.",
        "button": "Ja, schrijf mij uit",
        "done_heading": "Je bent uitgeschreven",
        "done_text": "{address} is uitgeschreven voor {list}. Je krijgt geen nieuwsbrieven meer.",
        "already_heading": "Je bent al uitgeschreven",
        "already_text": "{address} is al uitgeschreven voor {list}. Je krijgt geen nieuwsbrieven meer.",
        "cannot_heading": "Deze link werkt niet",
        "cannot_text": "De link is onvolledig of niet geldig, dus er is niets veranderd.",
        "cannot_how": "Uitschrijven kan met de link onderaan de laatste nieuwsbrief die je kreeg.",
        "cannot_mail": "Of stuur een e-mail naar {mailto} met de vraag om je uit te schrijven.",
        "the_list": "de nieuwsbrief",
        "busy": "Uitschrijven lukt nu even niet. Probeer het over een paar minuten opnieuw.",
    },
    "en": {
        "ask_heading": "Unsubscribe",
        "ask_text": "Do you want to unsubscribe {address} from {list}? You will get no more issues.",
        "ask_note": "Nothing has changed yet: only this button unsubscribes you.",
        "button": "Yes, unsubscribe me",
        "done_heading": "You are unsubscribed",
        "done_text": "{address} is unsubscribed from {list}. You will get no more issues.",
        "already_heading": "You are already unsubscribed",
        "already_text": "{address} is already unsubscribed from {list}. You will get no more issues.",
        "cannot_heading": "This link cannot be used",
        "cannot_text": "The link is incomplete or not valid, so nothing has changed.",
        "cannot_how": "You can unsubscribe with the link at the bottom of the latest issue you received.",
        "cannot_mail": "Or send an email to {mailto} asking to be unsubscribed.",
        "the_list": "the newsletter",
        "busy": "Unsubscribing is not possible right now. Please try again in a few minutes.",
    },
    "fr": {
        "ask_heading": "Se désinscrire",
        "ask_text": (
            "Voulez-vous désinscrire {address} de {list}\u00a0? Vous ne recevrez plus aucun numéro."
        ),
        "ask_note": "Rien n'a encore changé\u00a0: seul ce bouton vous désinscrit.",
        "button": "Oui, me désinscrire",
        "done_heading": "Vous êtes désinscrit·e",
        "done_text": "{address} est désinscrit·e de {list}. Vous ne recevrez plus aucun numéro.",
        "already_heading": "Vous êtes déjà désinscrit·e",
        "already_text": "{address} est déjà désinscrit·e de {list}. Vous ne recevrez plus aucun numéro.",
        "cannot_heading": "Ce lien ne peut pas être utilisé",
        "cannot_text": "Le lien est incomplet ou n'est pas valide\u00a0: rien n'a changé.",
        "cannot_how": "Vous pouvez vous désinscrire avec le lien en bas du dernier numéro reçu.",
        "cannot_mail": "Ou envoyez un e-mail à {mailto} pour demander votre désinscription.",
        "the_list": "la lettre d'information",
        "busy": "La désinscription n'est pas possible pour le moment. Réessayez dans quelques minutes.",
    },
    "de": {
        "ask_heading": "Abmelden",
        "ask_text": "Möchten Sie {address} von {list} abmelden? Sie erhalten dann keine Ausgaben mehr.",
        "ask_note": "Noch hat sich nichts geändert: Erst diese Schaltfläche meldet Sie ab.",
        "button": "Ja, abmelden",
        "done_heading": "Sie sind abgemeldet",
        "done_text": "{address} ist von {list} abgemeldet. Sie erhalten keine Ausgaben mehr.",
        "already_heading": "Sie sind bereits abgemeldet",
        "already_text": "{address} ist bereits von {list} abgemeldet. Sie erhalten keine Ausgaben mehr.",
        "cannot_heading": "Dieser Link funktioniert nicht",
        "cannot_text": "Der Link ist unvollständig oder ungültig, daher hat sich nichts geändert.",
        "cannot_how": "Abmelden können Sie über den Link unten in der letzten Ausgabe, die Sie erhielten.",
        "cannot_mail": "Oder senden Sie eine E-Mail an {mailto} mit der Bitte um Abmeldung.",
        "the_list": "diesem Newsletter",
        "busy": "Die Abmeldung ist gerade nicht möglich. Bitte versuchen Sie es in einigen Minuten erneut.",
    },
}

# The answer to a one-click POST (RFC 8058), read by a mail provider's machine and by nobody else: the
# same whether or not the link verified, so that it tells nothing about the address.
ONE_CLICK_ANSWER = "Unsubscribe request received.\n"
