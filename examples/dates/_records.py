"""What one record of the date study is, and what its fields and seeds may be.

:class:`DateRecord` is one generated example. :data:`FORMATS`, :data:`LANGUAGES`
and :data:`LOCALES` are what the generator (:mod:`examples.dates.data`) draws
from; the seeds and the identity of the shipped validation set
(:data:`VAL_FILE`, :data:`VAL_N`, :data:`VAL_SHA256`) are shared by the
generator, the validation-set reader (:mod:`examples.dates.validation`) and the
model loaders (:mod:`examples.dates.models`). :mod:`examples.dates.data`
re-exports every name.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "FORMATS",
    "LANGUAGES",
    "LOCALES",
    "TRAIN_SEED",
    "VAL_SEED",
    "VAL_FILE",
    "VAL_N",
    "VAL_SHA256",
    "DateRecord",
]

#: Seed of the training set.
TRAIN_SEED: int = 0
#: Seed of the 1,000-string validation set.
VAL_SEED: int = 1
#: File name of the shipped validation set (in ``examples/dates/weights``).
VAL_FILE: str = "validation.json"
#: Number of records in the shipped validation set.
VAL_N: int = 1000
#: sha256 of the shipped validation records (:func:`validation_sha256`):
#: ``generate_records(1000, VAL_SEED)`` made with Babel 2.18.0 and Faker 40.63.0.
VAL_SHA256: str = "afd05261aef3c4aa2490aae24ac6749e8b20e0e0e1b40bff57ffd7750b05f9c3"

#: Babel formats of the original generator, with ``yyyy`` for the calendar
#: year (never the week-year ``YYY``). ``'d MMMM yyyy'`` appears twice, as in
#: the original, so it is drawn twice as often.
FORMATS: tuple[str, ...] = (
    "short",
    "medium",
    "long",
    "full",
    "d MMM yyyy",
    "d MMMM yyyy",
    "dd MMM yyyy",
    "d MMM, yyyy",
    "d MMMM, yyyy",
    "dd, MMM yyyy",
    "d MM yy",
    "d MMMM yyyy",
    "MMMM d yyyy",
    "MMMM d, yyyy",
    "dd.MM.yy",
)

#: Latin-script languages whose locales make up :data:`LOCALES`.
LANGUAGES: tuple[str, ...] = tuple(
    "af bs ca cs cy da de en es et eu fi fil fr ga gl hr hu id is it lt lv "
    "ms nb nl nn pl pt ro sk sl sq sr sv sw tr".split()
)

#: The locales drawn from (sorted; ``find_latin_locales(LANGUAGES)`` with
#: Babel 2.18). Hard-coded so the data do not change if a newer Babel adds
#: locales.
LOCALES: tuple[str, ...] = tuple(
    """
    af af_NA af_ZA bs bs_Latn bs_Latn_BA ca ca_AD ca_ES ca_ES_VALENCIA
    ca_FR ca_IT cs cs_CZ cy cy_GB da da_DK da_GL de de_AT de_BE de_CH
    de_DE de_IT de_LI de_LU en en_001 en_150 en_AE en_AG en_AI en_AS
    en_AT en_AU en_BB en_BE en_BI en_BM en_BS en_BW en_BZ en_CA en_CC
    en_CH en_CK en_CM en_CX en_CY en_CZ en_DE en_DG en_DK en_DM en_ER
    en_ES en_FI en_FJ en_FK en_FM en_FR en_GB en_GD en_GG en_GH en_GI
    en_GM en_GS en_GU en_GY en_HK en_HU en_ID en_IE en_IL en_IM en_IN
    en_IO en_IT en_JE en_JM en_KE en_KI en_KN en_KY en_LC en_LR en_LS
    en_MG en_MH en_MO en_MP en_MS en_MT en_MU en_MV en_MW en_MY en_NA
    en_NF en_NG en_NL en_NO en_NR en_NU en_NZ en_PG en_PH en_PK en_PL
    en_PN en_PR en_PT en_PW en_RO en_RW en_SB en_SC en_SD en_SE en_SG
    en_SH en_SI en_SK en_SL en_SS en_SX en_SZ en_TC en_TK en_TO en_TT
    en_TV en_TZ en_UG en_UM en_US en_US_POSIX en_VC en_VG en_VI en_VU
    en_WS en_ZA en_ZM en_ZW es es_419 es_AR es_BO es_BR es_BZ es_CL
    es_CO es_CR es_CU es_DO es_EA es_EC es_ES es_GQ es_GT es_HN es_IC
    es_MX es_NI es_PA es_PE es_PH es_PR es_PY es_SV es_US es_UY es_VE et
    et_EE eu eu_ES fi fi_FI fil fil_PH fr fr_BE fr_BF fr_BI fr_BJ fr_BL
    fr_CA fr_CD fr_CF fr_CG fr_CH fr_CI fr_CM fr_DJ fr_DZ fr_FR fr_GA
    fr_GF fr_GN fr_GP fr_GQ fr_HT fr_KM fr_LU fr_MA fr_MC fr_MF fr_MG
    fr_ML fr_MQ fr_MR fr_MU fr_NC fr_NE fr_PF fr_PM fr_RE fr_RW fr_SC
    fr_SN fr_SY fr_TD fr_TG fr_TN fr_VU fr_WF fr_YT ga ga_GB ga_IE gl
    gl_ES hr hr_BA hr_HR hu hu_HU id id_ID is is_IS it it_CH it_IT it_SM
    it_VA lt lt_LT lv lv_LV ms ms_BN ms_ID ms_MY ms_SG nb nb_NO nb_SJ nl
    nl_AW nl_BE nl_BQ nl_CW nl_NL nl_SR nl_SX nn nn_NO pl pl_PL pt pt_AO
    pt_BR pt_CH pt_CV pt_GQ pt_GW pt_LU pt_MO pt_MZ pt_PT pt_ST pt_TL ro
    ro_MD ro_RO sk sk_SK sl sl_SI sq sq_AL sq_MK sq_XK sr_Latn
    sr_Latn_BA sr_Latn_ME sr_Latn_RS sr_Latn_XK sv sv_AX sv_FI sv_SE sw
    sw_CD sw_KE sw_TZ sw_UG tr tr_CY tr_TR
    """.split()
)


class DateRecord(NamedTuple):
    """One generated example.

    Attributes
    ----------
    human : str
        The human-written date (model input).
    iso : str
        The target, ``YYYY-MM-DD``.
    locale : str
        Babel locale used to render ``human``.
    format : str
        Babel format used (an entry of :data:`FORMATS`).
    case : str
        ``"upper"``, ``"lower"`` or ``"keep"``.
    """

    human: str
    iso: str
    locale: str
    format: str
    case: str
