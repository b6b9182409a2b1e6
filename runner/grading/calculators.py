"""Clinical scores and formulas, implemented once and checked in tests against hand-worked examples.

Each calculator is a plain function with typed keyword arguments; `compute(name, inputs)` checks the
inputs against the signature so a scenario file with a wrong or missing input fails at validation."""

from __future__ import annotations

import inspect
import math
from typing import Callable


def cha2ds2_vasc(*, age: int, sex: str, chf: bool, hypertension: bool, diabetes: bool, stroke_tia: bool,
                 vascular_disease: bool) -> int:
    """Stroke risk in atrial fibrillation (ESC/AHA): C1 H1 A2(>=75) D1 S2 V1 A1(65-74) Sc1(female)."""
    return (chf + hypertension + diabetes + 2 * stroke_tia + vascular_disease
            + (2 if age >= 75 else 1 if age >= 65 else 0) + (sex == "female"))


def cockcroft_gault(*, age: int, weight_kg: float, creatinine_mg_dl: float, sex: str) -> float:
    """Creatinine clearance, mL/min: (140 - age) x weight / (72 x serum creatinine mg/dL), x 0.85 if female."""
    return (140 - age) * weight_kg / (72 * creatinine_mg_dl) * (0.85 if sex == "female" else 1.0)


def cockcroft_gault_umol(*, age: int, weight_kg: float, creatinine_umol_l: float, sex: str) -> float:
    """The same with creatinine in umol/L (1 mg/dL = 88.4 umol/L)."""
    return cockcroft_gault(age=age, weight_kg=weight_kg, creatinine_mg_dl=creatinine_umol_l / 88.4, sex=sex)


def bmi(*, weight_kg: float, height_cm: float) -> float:
    return weight_kg / (height_cm / 100) ** 2


def mean_arterial_pressure(*, systolic: float, diastolic: float) -> float:
    return (systolic + 2 * diastolic) / 3


def anion_gap(*, sodium: float, chloride: float, bicarbonate: float) -> float:
    return sodium - (chloride + bicarbonate)


def corrected_calcium(*, calcium_mg_dl: float, albumin_g_dl: float) -> float:
    """Payne: calcium + 0.8 x (4 - albumin), mg/dL."""
    return calcium_mg_dl + 0.8 * (4.0 - albumin_g_dl)


def corrected_sodium(*, sodium: float, glucose_mg_dl: float) -> float:
    """Katz: sodium + 1.6 x (glucose - 100) / 100, mmol/L."""
    return sodium + 1.6 * (glucose_mg_dl - 100) / 100


def qtc_bazett(*, qt_ms: float, heart_rate: float) -> float:
    return qt_ms / math.sqrt(60.0 / heart_rate)


def curb_65(*, confusion: bool, urea_mmol_l: float, respiratory_rate: int, systolic: float, diastolic: float,
            age: int) -> int:
    """Pneumonia severity (BTS/NICE): confusion, urea > 7 mmol/L, RR >= 30, SBP < 90 or DBP <= 60, age >= 65."""
    return (confusion + (urea_mmol_l > 7) + (respiratory_rate >= 30) + (systolic < 90 or diastolic <= 60)
            + (age >= 65))


def qsofa(*, respiratory_rate: int, systolic: float, altered_mentation: bool) -> int:
    """Sepsis-3 quick SOFA: RR >= 22, SBP <= 100, altered mentation."""
    return (respiratory_rate >= 22) + (systolic <= 100) + altered_mentation


def wells_pe(*, dvt_signs: bool, pe_most_likely: bool, heart_rate_over_100: bool, immobilization_or_surgery: bool,
             previous_dvt_pe: bool, hemoptysis: bool, malignancy: bool) -> float:
    """Wells score for pulmonary embolism."""
    return (3 * dvt_signs + 3 * pe_most_likely + 1.5 * heart_rate_over_100 + 1.5 * immobilization_or_surgery
            + 1.5 * previous_dvt_pe + hemoptysis + malignancy)


def glasgow_coma_scale(*, eye: int, verbal: int, motor: int) -> int:
    if not (1 <= eye <= 4 and 1 <= verbal <= 5 and 1 <= motor <= 6):
        raise ValueError("GCS components: eye 1-4, verbal 1-5, motor 6-1")
    return eye + verbal + motor


CALCULATORS: dict[str, Callable[..., float]] = {f.__name__: f for f in (
    cha2ds2_vasc, cockcroft_gault, cockcroft_gault_umol, bmi, mean_arterial_pressure, anion_gap,
    corrected_calcium, corrected_sodium, qtc_bazett, curb_65, qsofa, wells_pe, glasgow_coma_scale)}


def compute(name: str, inputs: dict) -> float:
    """Run a calculator by name; ValueError naming what is unknown, missing or extra."""
    if name not in CALCULATORS:
        raise ValueError(f"unknown calculator '{name}'; known: {', '.join(CALCULATORS)}")
    params = inspect.signature(CALCULATORS[name]).parameters
    missing, extra = set(params) - set(inputs), set(inputs) - set(params)
    if missing or extra:
        raise ValueError(f"calculator '{name}' takes inputs {', '.join(params)}"
                         + (f"; missing {', '.join(sorted(missing))}" if missing else "")
                         + (f"; unknown {', '.join(sorted(extra))}" if extra else ""))
    if "sex" in inputs and inputs["sex"] not in ("female", "male"):
        raise ValueError("sex must be 'female' or 'male' for this formula")
    return float(CALCULATORS[name](**inputs))
