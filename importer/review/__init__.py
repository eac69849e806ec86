"""The review formats of the report: HTML for a person, CSV for a spreadsheet."""
