"""Season schedules: parsing the published feeds into meetings and sessions (pure logic)."""
