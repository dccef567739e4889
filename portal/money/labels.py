"""Labels of settlement records' codes (contract 5.2): payment method and settlement type."""

from flask_babel import lazy_gettext as _l

from portal.labels import Vocabulary

METHOD = {
    "bank_transfer": _l("bank transfer"),
    "alipay": _l("Alipay"),
    "wechat_pay": _l("WeChat Pay"),
    "card": _l("bank card"),
    "cash": _l("cash"),
    "other": _l("other"),
}
SETTLEMENT_TYPE = {
    "partial": _l("partial payment"),
    "full": _l("paid in full"),
    "settlement": _l("settled with a waiver"),
}

VOCABULARIES = (Vocabulary("method", METHOD), Vocabulary("settlement_type", SETTLEMENT_TYPE))
