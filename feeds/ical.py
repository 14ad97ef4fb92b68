"""Events as iCalendar: write a feed's events as a subscribable .ics, read real-world calendars into events.

Writing lives in ``ical_write`` and reading in ``ical_read``; this module is the public face.
"""
from feeds.ical_read import CalendarRead, read_calendar
from feeds.ical_write import event_uid, write_calendar

__all__ = ["CalendarRead", "event_uid", "read_calendar", "write_calendar"]
