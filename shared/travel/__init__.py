"""Race-weekend travel planning and circuit facts (pure): circuit catalogue, weekend timeline views,
iCalendar export, travel plan, weekend weather across past years, circuit history."""
