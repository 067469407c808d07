"""Regenerate sample.pdf with fpdf2.

sample.pdf is checked in; this script only documents how it was made. It writes a
two-page PDF whose first page says "Page one talks about Riesling from the Mosel" and
whose second page says "Page two talks about Barolo from Piedmont".

Usage (fpdf2 is not a dependency of chinwag, so use a throwaway environment):

    python3 -m venv /tmp/pdfgen
    /tmp/pdfgen/bin/pip install fpdf2
    /tmp/pdfgen/bin/python tests/data/ingest/make_sample_pdf.py
"""

from pathlib import Path

from fpdf import FPDF

PAGES = [
    (
        "Page one talks about Riesling from the Mosel.",
        "The vines grow on steep slate slopes above the river, and the wines are light, "
        "fresh and often a little sweet.",
    ),
    (
        "Page two talks about Barolo from Piedmont.",
        "Barolo is made from Nebbiolo in the Langhe hills near Alba and needs years in "
        "the bottle before its firm tannins soften.",
    ),
]


def main() -> None:
    pdf = FPDF(format="A4")
    pdf.set_creator("chinwag tests/data/ingest/make_sample_pdf.py")
    pdf.set_title("Sample PDF for the loader tests")
    pdf.set_font("Helvetica", size=14)
    for heading, body in PAGES:
        pdf.add_page()
        pdf.multi_cell(0, 10, heading)
        pdf.ln(4)
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(0, 7, body)
        pdf.set_font("Helvetica", size=14)
    out = Path(__file__).with_name("sample.pdf")
    pdf.output(str(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
