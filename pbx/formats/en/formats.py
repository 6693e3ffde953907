"""English for a Swedish product: the day before the month and the 24-hour clock, as the companies' people read
times. Django's "en" is American ("12/07/2026 7:05 a.m." for 7 December, read as 12 July in Europe)."""

from django.conf.locale.en_GB.formats import (  # noqa: F401  (re-exported: this module is the "en" formats)
    DATE_INPUT_FORMATS,
    DATETIME_INPUT_FORMATS,
    DECIMAL_SEPARATOR,
    FIRST_DAY_OF_WEEK,
    MONTH_DAY_FORMAT,
    NUMBER_GROUPING,
    THOUSAND_SEPARATOR,
    YEAR_MONTH_FORMAT,
)

DATE_FORMAT = "j F Y"  # 7 December 2026
TIME_FORMAT = "H:i"  # 07:05
DATETIME_FORMAT = "j F Y H:i"  # 7 December 2026 07:05
SHORT_DATE_FORMAT = "d/m/Y"  # 07/12/2026
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 07/12/2026 07:05
