"""Astronomy for the lunar calendar: new moons (Meeus ch. 49) and the Sun's longitude (Meeus ch. 25).

Times are Julian Days. The formulas give Terrestrial Time (JDE); ΔT (Espenak–Meeus polynomials)
converts them to Universal Time. Accuracy is well under a minute for new moons and about 0.01°
(≈15 minutes) for the Sun over 1900–2100, enough to place each on a civil day.
"""

from __future__ import annotations

import math

SYNODIC_MONTH = 29.530588861
J2000 = 2451545.0
_NEW_MOON_EPOCH = 2451550.09766  # JDE of the new moon k = 0 (6 January 2000)


def _sin(degrees: float) -> float:
    return math.sin(math.radians(degrees))


def delta_t_seconds(year: float) -> float:
    """TT − UT in seconds for a decimal year (Espenak–Meeus fits, 1900–2150)."""
    if year < 1920:
        t = year - 1900
        return -2.79 + 1.494119 * t - 0.0598939 * t**2 + 0.0061966 * t**3 - 0.000197 * t**4
    if year < 1941:
        t = year - 1920
        return 21.20 + 0.84493 * t - 0.076100 * t**2 + 0.0020936 * t**3
    if year < 1961:
        t = year - 1950
        return 29.07 + 0.407 * t - t**2 / 233 + t**3 / 2547
    if year < 1986:
        t = year - 1975
        return 45.45 + 1.067 * t - t**2 / 260 - t**3 / 718
    if year < 2005:
        t = year - 2000
        return (63.86 + 0.3345 * t - 0.060374 * t**2 + 0.0017275 * t**3 + 0.000651814 * t**4
                + 0.00002373599 * t**5)
    if year < 2050:
        t = year - 2000
        return 62.92 + 0.32217 * t + 0.005589 * t**2
    return -20 + 32 * ((year - 1820) / 100) ** 2 - 0.5628 * (2150 - year)


def _delta_t_days(jd: float) -> float:
    return delta_t_seconds(2000.0 + (jd - J2000) / 365.25) / 86400.0


# Periodic terms of the new-moon correction: (coefficient, power of E, multiples of M, M', F, Ω).
_NEW_MOON_TERMS: tuple[tuple[float, int, int, int, int, int], ...] = (
    (-0.40720, 0, 0, 1, 0, 0), (0.17241, 1, 1, 0, 0, 0), (0.01608, 0, 0, 2, 0, 0),
    (0.01039, 0, 0, 0, 2, 0), (0.00739, 1, -1, 1, 0, 0), (-0.00514, 1, 1, 1, 0, 0),
    (0.00208, 2, 2, 0, 0, 0), (-0.00111, 0, 0, 1, -2, 0), (-0.00057, 0, 0, 1, 2, 0),
    (0.00056, 1, 1, 2, 0, 0), (-0.00042, 0, 0, 3, 0, 0), (0.00042, 1, 1, 0, 2, 0),
    (0.00038, 1, 1, 0, -2, 0), (-0.00024, 1, -1, 2, 0, 0), (-0.00017, 0, 0, 0, 0, 1),
    (-0.00007, 0, 2, 1, 0, 0), (0.00004, 0, 0, 2, -2, 0), (0.00004, 0, 3, 0, 0, 0),
    (0.00003, 0, 1, 1, -2, 0), (0.00003, 0, 0, 2, 2, 0), (-0.00003, 0, 1, 1, 2, 0),
    (0.00003, 0, -1, 1, 2, 0), (-0.00002, 0, -1, 1, -2, 0), (-0.00002, 0, 1, 3, 0, 0),
    (0.00002, 0, 0, 4, 0, 0),
)

# Planetary arguments A1..A14: (constant, rate per lunation, coefficient in days).
_PLANETARY_TERMS: tuple[tuple[float, float, float], ...] = (
    (299.77, 0.107408, 0.000325), (251.88, 0.016321, 0.000165), (251.83, 26.651886, 0.000164),
    (349.42, 36.412478, 0.000126), (84.66, 18.206239, 0.000110), (141.74, 53.303771, 0.000062),
    (207.14, 2.453732, 0.000060), (154.84, 7.306860, 0.000056), (34.52, 27.261239, 0.000047),
    (207.19, 0.121824, 0.000042), (291.34, 1.844379, 0.000040), (161.72, 24.198154, 0.000037),
    (239.56, 25.513099, 0.000035), (331.55, 3.592518, 0.000023),
)


def new_moon(k: int) -> float:
    """Julian Day (UT) of the k-th new moon counted from 6 January 2000."""
    t = k / 1236.85
    jde = (_NEW_MOON_EPOCH + SYNODIC_MONTH * k + 0.00015437 * t**2 - 0.000000150 * t**3
           + 0.00000000073 * t**4)
    e = 1 - 0.002516 * t - 0.0000074 * t**2
    m = 2.5534 + 29.10535670 * k - 0.0000014 * t**2 - 0.00000011 * t**3
    mp = 201.5643 + 385.81693528 * k + 0.0107582 * t**2 + 0.00001238 * t**3 - 0.000000058 * t**4
    f = 160.7108 + 390.67050284 * k - 0.0016118 * t**2 - 0.00000227 * t**3 + 0.000000011 * t**4
    omega = 124.7746 - 1.56375588 * k + 0.0020672 * t**2 + 0.00000215 * t**3
    for coeff, e_power, n_m, n_mp, n_f, n_omega in _NEW_MOON_TERMS:
        jde += coeff * e**e_power * _sin(n_m * m + n_mp * mp + n_f * f + n_omega * omega)
    jde += _sin(_PLANETARY_TERMS[0][0] + _PLANETARY_TERMS[0][1] * k - 0.009173 * t**2) * _PLANETARY_TERMS[0][2]
    for const, rate, coeff in _PLANETARY_TERMS[1:]:
        jde += coeff * _sin(const + rate * k)
    return jde - _delta_t_days(jde)


def new_moon_index_near(jd: float) -> int:
    """The lunation number k whose mean new moon is nearest to a Julian Day."""
    return round((jd - _NEW_MOON_EPOCH) / SYNODIC_MONTH)


def sun_longitude(jd_ut: float) -> float:
    """Apparent geocentric longitude of the Sun in degrees [0, 360) at a Julian Day (UT)."""
    t = (jd_ut + _delta_t_days(jd_ut) - J2000) / 36525
    mean_longitude = 280.46646 + 36000.76983 * t + 0.0003032 * t**2
    anomaly = 357.52911 + 35999.05029 * t - 0.0001537 * t**2
    centre = ((1.914602 - 0.004817 * t - 0.000014 * t**2) * _sin(anomaly)
              + (0.019993 - 0.000101 * t) * _sin(2 * anomaly) + 0.000289 * _sin(3 * anomaly))
    omega = 125.04 - 1934.136 * t
    return (mean_longitude + centre - 0.00569 - 0.00478 * _sin(omega)) % 360.0


def sun_reaches(longitude: float, guess_jd: float) -> float:
    """Julian Day (UT) near `guess_jd` when the Sun's apparent longitude equals `longitude`."""
    jd = guess_jd
    for _ in range(50):
        gap = (longitude - sun_longitude(jd) + 180.0) % 360.0 - 180.0
        jd += gap / 0.9856
        if abs(gap) < 1e-7:
            break
    return jd
