"""Contact records: what an agency did on a case (calls, SMS, visits, promises to pay)."""
