"""schema.org JSON-LD for detail pages, so search engines show offers, events and organisations
with their dates, places and contacts (the mapping of schema/README.md, read the other way)."""
from aggregator.occurrences import Occurrence
from webapp.i18n import pick

EVENT_STATUS = {"scheduled": "https://schema.org/EventScheduled", "cancelled": "https://schema.org/EventCancelled",
                "postponed": "https://schema.org/EventPostponed"}


def _text(value: dict | None) -> str | None:
    return pick(value, "de")[1] if value else None


def _address(address: dict | None) -> dict | None:
    if not address:
        return None
    return {"@type": "PostalAddress", "streetAddress": address["address_1"], "postalCode": address["postal_code"],
            "addressLocality": address["city"], "addressCountry": address.get("country", "DE")}


def _place(location: dict | None) -> dict | None:
    if not location:
        return None
    if location.get("location_type") == "virtual":
        return {"@type": "VirtualLocation", "url": location.get("url")}
    place = {"@type": "Place", "name": _text(location.get("name")), "address": _address(location.get("address"))}
    if "latitude" in location and "longitude" in location:
        place["geo"] = {"@type": "GeoCoordinates", "latitude": location["latitude"], "longitude": location["longitude"]}
    return _without_empty(place)


def _without_empty(data: dict) -> dict:
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def _contact_points(contacts: list[dict]) -> list[dict]:
    return [_without_empty({"@type": "ContactPoint", "name": c.get("name"), "telephone": c.get("phone"),
                            "email": c.get("email"), "availableLanguage": c.get("languages")}) for c in contacts]


def json_ld(entry: dict, page_url: str, next_dates: list[Occurrence], organisation_url: str | None) -> dict:
    """The schema.org description of an entry's record."""
    record, kind = entry["data"], entry["kind"]
    if kind == "organisation":
        return _without_empty({
            "@context": "https://schema.org", "@type": "Organization", "@id": page_url, "url": record.get("website") or page_url,
            "name": _text(record.get("name")), "description": _text(record.get("description")),
            "email": record.get("email"), "telephone": record.get("phone"), "address": _address(record.get("address")),
            "contactPoint": _contact_points(record.get("contacts", []))})
    common = {"@context": "https://schema.org", "@id": page_url, "url": page_url, "name": _text(record.get("title")),
              "description": _text(record.get("description")), "inLanguage": record.get("languages"),
              "audience": [{"@type": "Audience", "audienceType": group} for group in record.get("target_groups", [])]}
    if kind == "offer":
        return _without_empty(common | {
            "@type": "Service", "serviceType": record.get("categories"),
            "provider": {"@type": "Organization", "@id": organisation_url} if organisation_url else None,
            "areaServed": entry.get("town"), "availableChannel": [
                _without_empty({"@type": "ServiceChannel", "serviceLocation": _place(location)})
                for location in record.get("locations", [])]})
    first = next_dates[0] if next_dates else None
    return _without_empty(common | {
        "@type": "Event", "eventStatus": EVENT_STATUS.get(record.get("status", "scheduled")),
        "startDate": first.start_utc.isoformat() if first else None,
        "endDate": first.end_utc.isoformat() if first and first.end_utc else None,
        "location": _place(record.get("location")),
        "organizer": {"@type": "Organization", "@id": organisation_url} if organisation_url else None,
        "isAccessibleForFree": (record.get("cost") or {}).get("free"),
        "eventAttendanceMode": "https://schema.org/OnlineEventAttendanceMode"
        if (record.get("location") or {}).get("location_type") == "virtual" else "https://schema.org/OfflineEventAttendanceMode"})
