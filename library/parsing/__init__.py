"""PDF → pages → text: pure, no database.

`pdf_text` opens a PDF and reads each page's text (pypdf), normalised for search and people;
`chunking` packs a page's lines into chunks sized by the embedding model's tokenizer.
`pages`, `layout`, `tables` and `glyphs` read pages as lines, blocks and table rows with
their boxes (pypdfium2, pdfplumber).
"""
