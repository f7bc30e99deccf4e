"""PDF → pages → lines, blocks and table rows with boxes: pure, no database."""
