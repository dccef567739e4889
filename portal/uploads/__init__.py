"""Agency uploads: one pipeline from bytes to stored contacts or settlements, with row errors."""
