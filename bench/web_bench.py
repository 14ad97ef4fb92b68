"""Web speed: search latency and the calendar subscription on a generated directory, each beside the
store call it is built on, all measured in the same run, on SQLite or on PostgreSQL.

    python bench/web_bench.py [--backend sqlite|postgresql] [--offers 100000] [--events 200000]
                              [--ics-events 10000] [--queries 200] [--budget 180] [--request-limit 30]
                              [--keep | --db PATH]

The directory is generated through the store's own write path (``Store.apply_harvest``, one
transaction per source, as a harvest writes it), so its search index, facets and expanded dates are
those a real harvest builds: sources of a few thousand records each, titles and descriptions in
German, Turkish, Arabic and Ukrainian, a quarter of the events repeating weekly.

``--backend sqlite`` (the default): generating the full size takes about half an hour, so with
``--keep`` the SQLite file stays in the system's temporary folder under a name made of the sizes, and
the next run of the same sizes reuses it; ``--db PATH`` uses (or generates and keeps) a file of your
choice; otherwise the file is removed at the end.

``--backend postgresql``: a throw-away PostgreSQL server (Debian's binaries, ``tests/postgres.py``:
a new cluster in a temporary folder, on 127.0.0.1, durability settings off, shared_buffers as
installed) holds the directory, generated anew in every run; after generating, the directory is
vacuumed and analysed once, as autovacuum would do shortly after a harvest, so the planner has its
statistics and no autovacuum runs beside the measurements. The server and its folder are removed at
the end, so ``--keep`` and ``--db`` do not apply.

Measured, each request timed with its body read, and the baselines interleaved with it query by query:
- search: a set of real queries (compound parts, Turkish and Arabic letters, facets, date ranges)
  against ``/``, ``/events`` and ``/api/v1/offers``, through Flask's test client and through a real
  HTTP server on 127.0.0.1, and each query's first asking apart (nothing cached for it yet); beside
  the store call the view makes (``Store.find`` or ``Store.occurrences_in``) and the bare full-text
  count on a connection of its own: on SQLite the MATCH of the trigram and word indexes, on
  PostgreSQL the same conditions the store puts on the ``search`` table (``text LIKE '%word%' OR
  words @@ plainto_tsquery('german', word)`` for words of three letters or more, a prefix tsquery for
  shorter ones), without the entries, filters, ranking and paging around them;
- ``/events.ics`` for one town holding ``--ics-events`` events: the full response (the first one
  apart, its events not yet written) and the 304 answer to its ETag, beside the store call the view
  makes (``Store.all_found``) and ``Store.occurrences_in`` for the same town and year.
Each series runs ``--queries`` times, or fewer once it has taken ``--budget`` seconds (the runs
column says how many). A page or store call still running after ``--request-limit`` seconds is
interrupted (SQLite: the connections are interrupted; PostgreSQL: their statements are cancelled)
and its query left out of every series of that endpoint, named in the report; an endpoint that does
not answer is left out with its status. Compare the ratios, not the absolute numbers: these machines
are noisy. Between the backends, compare the ratios to each one's own baselines first; the absolute
figures of two runs are comparable only as far as the machine was equally busy.
"""
import argparse
import http.client
import logging
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from urllib.parse import urlencode

import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the PostgreSQL backend starts its server with tests/postgres.py

from aggregator import merge  # noqa: E402
from aggregator.health import stamp  # noqa: E402
from aggregator.query import Filters  # noqa: E402
from aggregator.sources import DEFAULT_INTERVAL, Source  # noqa: E402
from aggregator.store import AcceptedRecord, HarvestBatch, Store  # noqa: E402

# The directory is generated as of a fixed day and the app is told it is that day, so a kept file
# answers the same whenever it is reused.
TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
LAYOUT = 1                  # raise when the generated directory changes, so no older kept file is reused
RECORDS_PER_SOURCE = 2500   # offers and events; sources of a few thousand records, as large providers publish
RECORDS_PER_ORGANISATION = 100
EVENT_DAYS = 300            # events start on one of the next 300 days: all inside the year a list shows
RECURRING_EVERY = 4         # one event in four repeats weekly
ICS_TOWN = ("Kreisstadt Wendel", "03999030")  # holds exactly --ics-events events, and no source
ICS_SEED = 4
TOWNS = [("Lindenau", "03999012", "37999"), ("Auenfeld", "03999003", "37991"), ("Brückhausen", "03999005", "37993"),
         ("Ostermoor", "03999021", "37995"), ("Talheim", "03999027", "37997"), ("Mühlbach", "03999018", "37994"),
         ("Sandow", "03999024", "37996"), ("Espenrode", "03999008", "37992"), ("Kirchweiler", "03999015", "37998")]
STREETS = ["Marktstraße", "Bahnhofstraße", "Lindenallee", "Schulweg", "Am Anger", "Kirchplatz", "Gartenstraße",
           "Mühlenweg", "Hauptstraße", "Rosenstraße", "Friedensplatz", "Ringstraße"]
ORGANISATION_KINDS = ["migrant-self-organisation", "welfare-association", "volunteer-initiative",
                      "municipal-integration-office", "education-provider", "faith-community"]
ORGANISATION_NAMES = ["Brücke e.V.", "Türkischer Elternverein", "Arabisches Kulturzentrum", "Ukrainischer Verein Mrija",
                      "Caritasverband", "Diakonisches Werk", "AWO Kreisverband", "Volkshochschule",
                      "Internationaler Frauentreff", "Jugendmigrationsdienst", "Integrationsbüro der Stadt",
                      "Deutsch-Syrischer Freundeskreis"]
CONTACTS = ["Ayşe Yılmaz", "Mehmet Öztürk", "Fatma Çelik", "Ahmad Al-Khatib", "Layla Haddad", "Олена Коваленко",
            "Андрій Шевченко", "Anna Schneider", "Jürgen Weiß", "Nilüfer Doğan", "Yusuf Şahin", "Мар'яна Бойко"]
OTHER_LANGUAGES = ["tr", "ar", "uk", "ru", "fa", "en"]
TRANSLATED = ("tr", "ar", "uk")
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]

# (German, Turkish, Arabic, Ukrainian title), category, target group.
OFFER_TOPICS = [
    (("Migrationsberatung für Erwachsene", "Yetişkinler için göç danışmanlığı", "استشارة الهجرة للبالغين",
      "Міграційна консультація для дорослих"), "counselling", "migration-background"),
    (("Deutschkurs für Anfängerinnen", "Kadınlar için başlangıç seviyesi Almanca kursu", "دورة لغة ألمانية للمبتدئات",
      "Курс німецької для початківиць"), "language-learning", "women"),
    (("Schuldnerberatung", "Borç danışmanlık hizmeti", "استشارة الديون", "Консультація щодо боргів"), "counselling", "everyone"),
    (("Bewerbungswerkstatt", "Başvuru atölyesi", "ورشة طلبات التوظيف", "Майстерня резюме"), "work-and-career", "newcomers"),
    (("Hausaufgabenhilfe für Grundschulkinder", "İlkokul çocukları için ödev yardımı", "مساعدة في الواجبات المدرسية",
      "Допомога з домашніми завданнями"), "education-and-school", "children"),
    (("Begleitung zu Ämtern und Behörden", "Resmi dairelere refakat", "مرافقة إلى الدوائر الرسمية", "Супровід до установ"),
     "counselling", "newcomers"),
    (("Sozialberatung auf Türkisch", "Türkçe sosyal danışmanlık", "استشارة اجتماعية باللغة التركية",
      "Соціальна консультація турецькою"), "counselling", "migration-background"),
    (("Anerkennungsberatung für ausländische Abschlüsse", "Yabancı diplomaların tanınması için danışmanlık",
      "استشارة الاعتراف بالشهادات الأجنبية", "Консультація з визнання іноземних дипломів"), "work-and-career", "newcomers"),
    (("Psychosoziale Beratung für Geflüchtete", "Mülteciler için psikososyal danışmanlık", "استشارة نفسية اجتماعية للاجئين",
      "Психосоціальна консультація для біженців"), "health", "refugees"),
    (("Mädchentreff", "Kızlar buluşması", "ملتقى الفتيات", "Зустрічі для дівчат"), "youth", "girls"),
    (("Seniorentreff international", "Uluslararası yaşlılar buluşması", "ملتقى كبار السن الدولي",
      "Міжнародний клуб для літніх людей"), "seniors", "seniors"),
    (("Wohnungssuche: Beratung und Begleitung", "Ev arama: danışmanlık ve refakat", "البحث عن سكن: استشارة ومرافقة",
      "Пошук житла: консультація та супровід"), "housing", "refugees"),
    (("Rechtsberatung zum Aufenthaltsrecht", "Oturum hakkı konusunda hukuki danışmanlık", "استشارة قانونية حول حق الإقامة",
      "Юридична консультація щодо права на перебування"), "legal-and-residence", "refugees"),
    (("Integrationskurs mit Kinderbetreuung", "Çocuk bakımlı uyum kursu", "دورة اندماج مع رعاية الأطفال",
      "Інтеграційний курс з доглядом за дітьми"), "language-learning", "parents"),
    (("Elternberatung", "Ebeveyn danışmanlığı", "استشارة الوالدين", "Консультація для батьків"), "family-and-children", "parents"),
    (("Gesundheitslotsen", "Sağlık rehberleri", "مرشدو الصحة", "Провідники у сфері здоров'я"), "health", "migration-background"),
    (("Antidiskriminierungsberatung", "Ayrımcılığa karşı danışmanlık", "استشارة مكافحة التمييز",
      "Консультація з протидії дискримінації"), "anti-discrimination", "everyone"),
    (("Ehrenamtliche Sprachpatenschaften", "Gönüllü dil arkadaşlığı", "رعاية لغوية تطوعية", "Волонтерські мовні пари"),
     "volunteering", "newcomers"),
    (("Schwimmkurs für Frauen", "Kadınlar için yüzme kursu", "دورة سباحة للنساء", "Курс плавання для жінок"), "sport", "women"),
    (("Jobcoaching für Zugewanderte", "Göçmenler için iş koçluğu", "تدريب مهني للمهاجرين", "Кар'єрний коучинг для мігрантів"),
     "work-and-career", "migration-background"),
    (("Türkçe danışmanlık saati", "Türkçe danışmanlık saati", "ساعة استشارة باللغة التركية", "Консультації турецькою мовою"),
     "counselling", "migration-background"),
]
EVENT_TOPICS = [
    (("Frauenfrühstück", "Kadınlar kahvaltısı", "فطور النساء", "Жіночий сніданок"), "women", "women"),
    (("Sprachcafé", "Dil kafesi", "مقهى اللغة", "Мовне кафе"), "language-learning", "everyone"),
    (("Infoabend: Anerkennung ausländischer Abschlüsse", "Bilgi akşamı: yabancı diplomaların tanınması",
      "أمسية إعلامية: الاعتراف بالشهادات الأجنبية", "Інформаційний вечір: визнання іноземних дипломів"), "work-and-career", "newcomers"),
    (("Interkulturelles Kochen", "Kültürlerarası yemek pişirme", "طبخ متعدد الثقافات", "Міжкультурна кулінарія"),
     "culture-and-leisure", "everyone"),
    (("Elterncafé", "Veli kafesi", "مقهى الآباء", "Кафе для батьків"), "family-and-children", "parents"),
    (("Fahrradwerkstatt", "Bisiklet atölyesi", "ورشة الدراجات", "Велосипедна майстерня"), "culture-and-leisure", "youth"),
    (("Nachbarschaftsfest", "Mahalle şenliği", "مهرجان الحي", "Сусідське свято"), "culture-and-leisure", "families"),
    (("Lesung: Geschichten aus der Heimat", "Okuma: memleketten hikâyeler", "قراءة: حكايات من الوطن",
      "Читання: історії з батьківщини"), "culture-and-leisure", "everyone"),
    (("Fastenbrechen im Gemeindehaus", "Cemaat evinde iftar", "إفطار في بيت الجماعة", "Іфтар у громадському домі"),
     "religion-and-dialogue", "everyone"),
    (("Workshop: Bewerbung schreiben", "Atölye: iş başvurusu yazmak", "ورشة: كتابة طلب التوظيف", "Воркшоп: як написати резюме"),
     "work-and-career", "youth"),
    (("Filmabend mit Gespräch", "Söyleşili film gecesi", "أمسية فيلم مع نقاش", "Кіновечір з обговоренням"),
     "culture-and-leisure", "everyone"),
    (("Ukrainischer Gesprächskreis", "Ukraynaca sohbet grubu", "حلقة حوار أوكرانية", "Українська розмовна група"),
     "language-learning", "refugees"),
    (("Spielenachmittag für Familien", "Aileler için oyun öğleden sonrası", "بعد ظهر الألعاب للعائلات",
      "Ігровий день для сімей"), "family-and-children", "families"),
    (("Erste-Hilfe-Kurs auf Arabisch", "Arapça ilk yardım kursu", "دورة إسعافات أولية باللغة العربية",
      "Курс першої допомоги арабською"), "health", "migration-background"),
    (("Infoveranstaltung Einbürgerung", "Vatandaşlığa geçiş bilgilendirme toplantısı", "لقاء إعلامي حول التجنس",
      "Інформаційна зустріч щодо натуралізації"), "legal-and-residence", "migration-background"),
    (("Fußballturnier der Kulturen", "Kültürler futbol turnuvası", "بطولة كرة القدم للثقافات", "Футбольний турнір культур"),
     "sport", "youth"),
    (("Tanzabend international", "Uluslararası dans gecesi", "أمسية رقص دولية", "Міжнародний танцювальний вечір"),
     "culture-and-leisure", "everyone"),
    (("Sprechstunde Migrationsberatung", "Göç danışmanlığı görüşme saati", "ساعة استشارة الهجرة",
      "Години консультацій з міграції"), "counselling", "migration-background"),
    (("Nähcafé für Frauen", "Kadınlar için dikiş kafesi", "مقهى الخياطة للنساء", "Швейне кафе для жінок"), "women", "women"),
    (("Hausaufgabentreff", "Ödev buluşması", "لقاء الواجبات المدرسية", "Зустріч для домашніх завдань"),
     "education-and-school", "children"),
]
# Sentences a description is made of: (German, then one in a language of the record).
SENTENCES_DE = [
    "Wir helfen bei Anträgen für das Jobcenter, die Familienkasse und die Ausländerbehörde.",
    "Termine nach Vereinbarung, auch telefonisch oder per Video.",
    "Kinderbetreuung ist während des Angebots möglich.",
    "Die Beratung ist kostenlos, vertraulich und unabhängig.",
    "Bitte bringen Sie Ihren Aufenthaltstitel und Ihre Unterlagen mit.",
    "Barrierefreier Zugang über den Hintereingang im Hof.",
    "Dolmetscherinnen für Dari, Farsi und Tigrinya können wir vermitteln.",
    "Für Berufstätige gibt es einen Abendtermin.",
    "Wir unterstützen bei der Wohnungssuche und bei Problemen mit dem Vermieter.",
    "Das Angebot richtet sich besonders an Neuzugewanderte und Geflüchtete.",
    "Auch Fragen zu Kita, Schule und Ausbildung beantworten wir gern.",
    "Eine Anmeldung ist nicht nötig, kommen Sie einfach vorbei.",
]
SENTENCES_OTHER = {
    "tr": ["Danışmanlık ücretsiz ve gizlidir.", "Randevu için lütfen bizi arayın.", "Çocuk bakımı mümkündür.",
           "Belgelerinizi yanınızda getirin.", "Kayıt gerekli değildir, doğrudan gelebilirsiniz."],
    "ar": ["الاستشارة مجانية وسرية.", "يرجى الاتصال بنا لتحديد موعد.", "رعاية الأطفال متاحة.",
           "يرجى إحضار وثائقكم.", "لا حاجة للتسجيل، تعالوا مباشرة."],
    "uk": ["Консультація безкоштовна та конфіденційна.", "Будь ласка, зателефонуйте нам, щоб домовитися про зустріч.",
           "Можливий догляд за дітьми.", "Будь ласка, візьміть із собою документи.", "Реєстрація не потрібна."],
}


# --- the directory ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """How many records the directory holds and how they are spread over sources."""

    offers: int
    events: int
    ics_events: int

    @property
    def sources(self) -> int:
        return max(1, -(-(self.offers + self.events) // RECORDS_PER_SOURCE))

    def offer_range(self, s: int) -> range:
        return range(s * self.offers // self.sources, (s + 1) * self.offers // self.sources)

    def event_range(self, s: int) -> range:
        return range(s * self.events // self.sources, (s + 1) * self.events // self.sources)

    @cached_property
    def ics_town_events(self) -> frozenset[int]:
        """The numbers of the ``ics_events`` events in ICS_TOWN, drawn at random (with a fixed seed)
        so that the town gets its share of recurring events."""
        return frozenset(random.Random(ICS_SEED).sample(range(self.events), self.ics_events))


def source_of(s: int) -> Source:
    town, ags, _ = TOWNS[s % len(TOWNS)]
    return Source(f"bench-{s:04d}", f"{ORGANISATION_NAMES[s % len(ORGANISATION_NAMES)]} {town}",
                  f"https://bench-{s:04d}.example/feed.json", ORGANISATION_KINDS[s % len(ORGANISATION_KINDS)],
                  town, ags, None, DEFAULT_INTERVAL, False, s + 1)


def feed_document(s: int, plan: Plan) -> dict:
    """The s-th source's feed as its publisher would write it."""
    source, rng = source_of(s), random.Random(s)
    offers, events = plan.offer_range(s), plan.event_range(s)
    organisations = max(1, (len(offers) + len(events)) // RECORDS_PER_ORGANISATION)
    return {
        "schema_version": "1.0.0",
        "publisher": {"id": f"de.bench.p{s:04d}", "name": {"de": source.name}, "kind": source.kind,
                      "town": {"name": source.town, "ags": source.ags}, "license": "CC-BY-4.0"},
        "default_language": "de", "timezone": "Europe/Berlin", "updated": _stamp(TODAY - timedelta(days=1)),
        "organisations": [_organisation(s, k) for k in range(organisations)],
        "offers": [_offer(g, s, organisations, rng) for g in offers],
        "events": [_event(g, s, organisations, plan, rng) for g in events],
    }


def _stamp(day: date) -> str:
    return f"{day.isoformat()}T09:30:00+01:00"


def _organisation(s: int, k: int) -> dict:
    town = TOWNS[s % len(TOWNS)][0]
    return {"id": f"org-{k}", "updated": _stamp(TODAY - timedelta(days=1 + k % 60)),
            "name": {"de": f"{ORGANISATION_NAMES[(s + k) % len(ORGANISATION_NAMES)]} {town}, Standort {k + 1}"},
            "kind": ORGANISATION_KINDS[(s + k) % len(ORGANISATION_KINDS)], "languages": ["de", OTHER_LANGUAGES[k % 6]]}


def _texts(titles: tuple[str, ...], language: str, suffix: str = "") -> dict:
    """A title in German and, where it is translated, in the record's other language."""
    text = {"de": titles[0] + suffix}
    if language in TRANSLATED:
        text[language] = titles[1 + TRANSLATED.index(language)]
    return text


def _description(language: str, rng: random.Random) -> dict:
    text = {"de": " ".join(rng.sample(SENTENCES_DE, 3))}
    if language in SENTENCES_OTHER:
        text[language] = " ".join(rng.sample(SENTENCES_OTHER[language], 2))
    return text


def _address(town: tuple[str, str, str], rng: random.Random) -> dict:
    return {"address_1": f"{rng.choice(STREETS)} {rng.randint(1, 80)}", "postal_code": town[2], "city": town[0]}


def _offer(g: int, s: int, organisations: int, rng: random.Random) -> dict:
    titles, category, target = OFFER_TOPICS[g % len(OFFER_TOPICS)]
    language = OTHER_LANGUAGES[(g // len(OFFER_TOPICS)) % len(OTHER_LANGUAGES)]
    # Most offers are where their provider is; one in five elsewhere in the district.
    town = TOWNS[g % len(TOWNS)] if g % 5 == 0 else TOWNS[s % len(TOWNS)]
    opens = 9 + g % 8
    return {
        "id": f"offer-{g}", "updated": _stamp(TODAY - timedelta(days=1 + g % 90)),
        "title": _texts(titles, language, f" in {town[0]}" if g % 3 == 0 else ""),
        "description": _description(language, rng), "status": "active",
        "categories": [category] + (["women"] if target == "women" and category != "women" else []),
        "target_groups": [target], "languages": ["de", language] + (["ar"] if g % 7 == 0 and language != "ar" else []),
        "provider": f"org-{g % organisations}",
        "locations": [{"location_type": "physical", "address": _address(town, rng)}],
        "contacts": [{"name": CONTACTS[g % len(CONTACTS)], "phone": f"+49 5551 {120000 + g % 80000}",
                      "email": f"beratung@bench-{s:04d}.example", "languages": ["de", language]}],
        "schedules": [{"freq": "WEEKLY", "byday": [WEEKDAYS[g % 5]], "opens_at": f"{opens:02d}:00",
                       "closes_at": f"{opens + 2:02d}:00", "attending_type": "walk_in"}],
        "cost": {"free": True}, "last_verified": (TODAY - timedelta(days=10 + g % 200)).isoformat(),
    }


def _event(g: int, s: int, organisations: int, plan: Plan, rng: random.Random) -> dict:
    """The g-th event. Title and start are a one-to-one function of g, so no two events from
    different sources are the same event by the merge rule: the directory holds exactly --events."""
    titles, category, target = EVENT_TOPICS[g % len(EVENT_TOPICS)]
    slot = g // len(EVENT_TOPICS)
    day = TODAY + timedelta(days=1 + slot % EVENT_DAYS)
    minutes = 8 * 60 + 15 * (slot // EVENT_DAYS)
    start = datetime.combine(day, datetime.min.time()) + timedelta(minutes=minutes)
    language = TRANSLATED[g % len(TRANSLATED)]
    town = (ICS_TOWN[0], ICS_TOWN[1], "37990") if g in plan.ics_town_events else TOWNS[(s + g % 3) % len(TOWNS)]
    record = {
        "id": f"event-{g}", "updated": _stamp(TODAY - timedelta(days=1 + g % 30)),
        "title": _texts(titles, language), "description": _description(language, rng),
        "start": start.strftime("%Y-%m-%dT%H:%M"), "end": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "categories": [category], "target_groups": [target], "languages": ["de", language],
        "organiser": f"org-{g % organisations}",
        "location": {"location_type": "physical", "address": _address(town, rng)},
    }
    if g % RECURRING_EVERY == 0:
        until = day + timedelta(weeks=8 + g % 19)
        record["recurrence"] = {"rrule": f"FREQ=WEEKLY;BYDAY={WEEKDAYS[day.weekday()]};UNTIL={until:%Y%m%d}T225959Z",
                                "exdate": [(start + timedelta(weeks=3)).strftime("%Y-%m-%dT%H:%M")]}
    return record


def check_generated(plan: Plan) -> None:
    """Stop before generating anything if the validator finds fault with the generated feeds."""
    from feeds.validate import check_document
    problems = check_document(feed_document(0, plan), today=TODAY)
    if problems:
        sys.exit("the generated feeds are not clean, so the figures would not be those of a harvested directory:\n"
                 + "\n".join(p.format("generated feed") for p in problems[:10]))


def batch_of(document: dict, source: Source) -> HarvestBatch:
    """The feed's records as a harvest hands them to the store (all valid, checked above)."""
    publisher = document["publisher"]["id"]
    records = [AcceptedRecord(kind, record, merge.global_id(publisher, record["id"]))
               for kind, list_name in (("organisation", "organisations"), ("offer", "offers"), ("event", "events"))
               for record in document[list_name]]
    return HarvestBatch(source.url, publisher, document["timezone"], records)


def generate(url: str | Path, plan: Plan) -> None:
    """Write the directory into the new, empty store at ``url``, source by source, saying how far it got."""
    store = Store(url)
    sources = [source_of(s) for s in range(plan.sources)]
    store.register_sources(sources)
    started, records, shown = time.perf_counter(), 0, 0.0
    total = plan.offers + plan.events
    for s, source in enumerate(sources):
        document = feed_document(s, plan)
        state = store.source_state(source.id)
        state.attempted(NOW, 200, None, 0.1)
        state.succeeded(NOW, source.interval)
        store.apply_harvest(state, batch_of(document, source), source.town, stamp(NOW))
        records += len(plan.offer_range(s)) + len(plan.event_range(s))
        elapsed = time.perf_counter() - started
        if elapsed - shown >= 15 or s == len(sources) - 1:
            shown = elapsed
            print(f"  generated {s + 1:,} of {len(sources):,} sources, {records:,} of {total:,} offers and events, "
                  f"{elapsed:,.0f} s", flush=True)
    store.close()


def kept_path(plan: Plan) -> Path:
    """Where a kept directory of these sizes lives between runs."""
    return (Path(tempfile.gettempdir()) / "wegweiser-web-bench"
            / f"offers{plan.offers}-events{plan.events}-ics{plan.ics_events}-layout{LAYOUT}.sqlite")


def prepare(plan: Plan, path: Path) -> bool:
    """Make sure a complete directory is at ``path``; True if this run generated it."""
    if path.exists():
        print(f"directory: reusing {path}")
        return False
    announce_generating(plan, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under another name first, so an interrupted run leaves no half directory to be reused.
    partial = path.with_name(path.name + ".partial")
    remove_database(partial)
    try:
        generate(partial, plan)
    except BaseException:
        remove_database(partial)
        raise
    partial.rename(path)
    return True


def announce_generating(plan: Plan, where: object) -> None:
    print(f"directory: generating {plan.offers:,} offers and {plan.events:,} events from {plan.sources:,} feed{'s' * (plan.sources > 1)} "
          f"into {where}", flush=True)


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


# --- the database under the directory -----------------------------------------------------------

class SQLiteDirectory:
    """The directory in a SQLite file, and what the bench asks of that file beside the store."""

    name = "sqlite"
    bare_label = "FTS MATCH count, bare"
    interrupted = sqlite3.OperationalError  # what a statement raises once its connection is interrupted

    def __init__(self, path: Path):
        self.path = path
        self.url = f"sqlite:///{path}"

    @staticmethod
    def version() -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def connect(self) -> sqlite3.Connection:
        """A read-only connection of the bench's own, for the bare counts and the directory's size."""
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)

    @staticmethod
    def interrupt(connection: sqlite3.Connection) -> None:
        connection.interrupt()

    def size(self, db: sqlite3.Connection) -> str:
        return f"{self.path.stat().st_size / 2**20:,.0f} MB of SQLite"

    @staticmethod
    def count_text(db: sqlite3.Connection, q: str) -> int:
        """The bare full-text lookup under a search: how many entries hold every folded word (three
        letters or more anywhere, as trigrams; shorter ones as the start of a word)."""
        words = merge.fold(q).split()
        long, short = [w for w in words if len(w) >= 3], [w for w in words if len(w) < 3]
        parts, args = [], []
        if long:
            parts.append("rowid IN (SELECT rowid FROM search_trigrams WHERE search_trigrams MATCH ?)")
            args.append(" AND ".join(_phrase(w) for w in long))
        if short:
            parts.append("rowid IN (SELECT rowid FROM search_words WHERE search_words MATCH ?)")
            args.append(" AND ".join(_phrase(w) + "*" for w in short))
        return db.execute(f"SELECT count(*) FROM search_words WHERE {' AND '.join(parts)}", args).fetchone()[0]


class PostgresDirectory:
    """The directory in a database on a PostgreSQL server, and what the bench asks of it beside the store."""

    name = "postgresql"
    bare_label = "LIKE or tsquery count, bare"
    interrupted = psycopg.OperationalError  # a cancelled statement raises QueryCanceled, one of these

    def __init__(self, url: str):
        self.url = url

    def version(self) -> str:
        with psycopg.connect(self.url, connect_timeout=10) as db:
            return "PostgreSQL " + db.execute("SHOW server_version").fetchone()[0]

    def connect(self) -> psycopg.Connection:
        """A read-only connection of the bench's own, for the bare counts and the directory's size;
        named apart from the store's connections in pg_stat_activity."""
        return psycopg.connect(self.url, autocommit=True, connect_timeout=10, application_name="web-bench",
                               options="-c default_transaction_read_only=on")

    @staticmethod
    def interrupt(connection: psycopg.Connection) -> None:
        """Ask the server to cancel the connection's running statement; an idle one ignores it, and
        a connection the store has closed meanwhile is skipped."""
        with suppress(psycopg.Error):
            connection.cancel_safe(timeout=10)

    def settle(self) -> None:
        """VACUUM ANALYZE once after generating: the statistics and visibility map autovacuum would
        have made shortly after a harvest, made now so that it does not run beside the measurements."""
        started = time.perf_counter()
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as db:
            db.execute("VACUUM ANALYZE")
        print(f"  vacuumed and analysed in {time.perf_counter() - started:,.0f} s", flush=True)

    @staticmethod
    def size(db: psycopg.Connection) -> str:
        total = db.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        largest = db.execute("SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' "
                             "AND relnamespace = 'public'::regnamespace ORDER BY 2 DESC LIMIT 4").fetchall()
        tables = ", ".join(f"{name} {size / 2**20:,.0f}" for name, size in largest)
        return f"{total / 2**20:,.0f} MB of PostgreSQL (largest tables with their indexes, MB: {tables})"

    @staticmethod
    def count_text(db: psycopg.Connection, q: str) -> int:
        """The bare full-text lookup under a search, as the store words it on the search table: how
        many entries hold every folded word (three letters or more inside a word, by the trigram
        index, or as a word of the same German stem; shorter ones as the start of a word)."""
        conditions, args = [], []
        for word in merge.fold(q).split():
            if len(word) >= 3:
                conditions.append("(text LIKE %s OR words @@ plainto_tsquery('german', %s))")
                args += [_like_pattern(word), word]
            else:
                conditions.append("words @@ to_tsquery('simple', %s)")
                args.append(_prefix_query(word))
        return db.execute(f"SELECT count(*) FROM search WHERE {' AND '.join(conditions)}", args).fetchone()[0]


def _phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _like_pattern(word: str) -> str:
    """``word`` anywhere, its LIKE wildcards taken literally."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _prefix_query(word: str) -> str:
    """A tsquery for words that start with ``word``, whatever characters it holds."""
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "':*"


# --- timing ---------------------------------------------------------------------------------

MIN_RUNS = 5  # a calendar series over budget still gets this many runs, so its median means something


@dataclass
class Series:
    """The seconds of each run of one measured thing, by the query it ran."""

    label: str
    runs: dict[int, list[float]] = field(default_factory=dict)

    def add(self, query: int, seconds: float) -> None:
        self.runs.setdefault(query, []).append(seconds)

    def drop(self, query: int) -> None:
        self.runs.pop(query, None)

    def of(self, queries) -> "Series":
        """The runs of the given queries only, to set beside a series that ran just those."""
        return Series(self.label, {k: v for k, v in self.runs.items() if k in queries})

    @property
    def seconds(self) -> list[float]:
        return [s for runs in self.runs.values() for s in runs]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p95(self) -> float:
        seconds = self.seconds
        return statistics.quantiles(seconds, n=20, method="inclusive")[18] if len(seconds) > 1 else seconds[0]


class Watchdog:
    """Runs a call and, once it has run ``limit`` seconds, interrupts the statements of the
    connections it is given, so that a pathological query costs the run a bounded time, not hours.
    The interruption is repeated every second until the call returns: a cancel that arrives
    between two of its statements finds the connection idle and is ignored."""

    AGAIN = 1.0  # seconds between interruptions once over the limit

    def __init__(self, limit: float, directory: SQLiteDirectory | PostgresDirectory, connections):
        self.limit = limit
        self.directory = directory
        self.connections = connections  # () -> the connections now in use

    def run(self, call, *args) -> tuple[object, float, bool]:
        """The call's result (None if interrupted), its seconds, and whether it ran over the limit."""
        over, done = threading.Event(), threading.Event()

        def interrupt_while_running() -> None:
            if done.wait(self.limit):
                return
            over.set()
            while True:
                for connection in self.connections():
                    self.directory.interrupt(connection)
                if done.wait(self.AGAIN):
                    return

        # Joined before returning, so no interruption meant for this call can reach the next one.
        watcher = threading.Thread(target=interrupt_while_running, daemon=True)
        watcher.start()
        started = time.perf_counter()
        try:
            result = call(*args)
        except self.directory.interrupted:
            if not over.is_set():
                raise
            result = None
        finally:
            seconds = time.perf_counter() - started
            done.set()
            watcher.join()
        return result, seconds, over.is_set()


def rounds(runs: int, budget: float, minimum: int):
    """Run numbers 0, 1, ... up to ``runs``, stopping early once ``budget`` seconds have passed
    (but not before ``minimum`` runs)."""
    started = time.perf_counter()
    for n in range(runs):
        if n >= minimum and time.perf_counter() - started > budget:
            return
        yield n


# --- what is asked ----------------------------------------------------------------------------

SEARCHES = [
    {"q": "beratung"},                            # part of Migrations-, Schuldner-, Rechtsberatung
    {"q": "Frühstück"},                           # inside Frauenfrühstück
    {"q": "fruhstuck"},                           # typed without umlauts
    {"q": "turkce"},                              # Türkçe without Turkish letters
    {"q": "danışmanlık"},                         # Turkish dotless ı
    {"q": "sprachcafe"},
    {"q": "استشارة"},                              # Arabic: counselling
    {"q": "консультація"},                        # Ukrainian: counselling
    {"q": "deutschkurs kinderbetreuung"},         # two words, both required
    {"q": "anerkennung abschlüsse"},
    {"q": "beratung", "category": "health"},
    {"category": "language-learning", "town": "Talheim"},
    {"language": "ar", "target_group": "refugees"},
    {"q": "wohnung", "language": "uk", "town": "Lindenau"},
    {"town": "Mühlbach", "provider_kind": "migrant-self-organisation"},
    {},                                           # the front page as it opens
]
# Other words and filters than the pages', so that the API's first askings find nothing counted yet.
API_SEARCHES = [
    {"q": "schuldner"},
    {"q": "bewerbung"},
    {"q": "yardım"},                              # Turkish: help (ı and no accents typed alike)
    {"q": "الإقامة"},                              # Arabic: residence
    {"q": "житла"},                               # Ukrainian: housing
    {"q": "hausaufgaben", "town": "Auenfeld"},
    {"q": "kostenlos vertraulich"},
    {"q": "psychosoziale", "language": "fa"},
    {"category": "housing"},
    {"target_group": "girls", "language": "tr"},
    {"provider_kind": "welfare-association", "category": "work-and-career"},
    {"town": "Sandow", "category": "health", "target_group": "refugees"},
]
EVENT_SEARCHES = [
    {},                                                          # the coming year, as /events opens
    {"q": "frauenfrühstück"},
    {"q": "sprachcafe", "from": "2027-01-01", "to": "2027-01-31"},
    {"category": "women", "from": "2026-12-01", "to": "2026-12-14"},
    {"town": "Talheim", "from": "2027-03-01", "to": "2027-03-31"},
    {"q": "iftar"},
    {"q": "фестиваль"},                                          # no match at all
    {"target_group": "families", "language": "tr"},
    {"from": "2027-05-01", "to": "2027-05-01"},                  # one day
    {"q": "kochen", "town": "Lindenau"},
]


@dataclass
class Endpoint:
    """A URL path, the queries sent to it, and the store call its view makes for one query."""

    path: str
    queries: list[dict]
    baseline_label: str
    baseline: object  # (store, Filters) -> how many matches


def offers_found(store: Store, filters: Filters) -> int:
    return store.find("offer", filters, page=1, per_page=20).total


def event_dates_found(store: Store, filters: Filters) -> int:
    """The call behind /events: the first dates in the filter's range, else in the year from today."""
    from webapp.directory import event_range
    from webapp.pages import EVENT_DATES_SHOWN
    return len(store.occurrences_in(filters, *event_range(filters, TODAY), limit=EVENT_DATES_SHOWN + 1))


ENDPOINTS = [
    Endpoint("/", SEARCHES, "Store.find", offers_found),
    Endpoint("/events", EVENT_SEARCHES, "Store.occurrences_in", event_dates_found),
    Endpoint("/api/v1/offers", API_SEARCHES, "Store.find", offers_found),
]


def url_of(path: str, query: dict) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def shown(path: str, query: dict) -> str:
    """A URL as a person reads it: the query's words as typed, not percent-encoded."""
    return f"{path}?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else path


ICS_URL, ICS_SHOWN = url_of("/events.ics", {"town": ICS_TOWN[0]}), shown("/events.ics", {"town": ICS_TOWN[0]})


# --- a real server ------------------------------------------------------------------------------

class Server:
    """The app on a werkzeug server in a thread on 127.0.0.1, and GET over a new connection each time."""

    def __init__(self, app):
        from werkzeug.serving import make_server
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def get(self, url: str, headers: dict | None = None) -> int:
        """The status of a GET, its body read in full."""
        return self.head_of(url, headers)[0]

    def head_of(self, url: str, headers: dict | None = None) -> tuple[int, http.client.HTTPMessage]:
        """The status and headers of a GET, its body read in full."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600)
        try:
            connection.request("GET", url, headers=headers or {})
            response = connection.getresponse()
            response.read()
            return response.status, response.headers
        finally:
            connection.close()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- the measurements ---------------------------------------------------------------------------

@dataclass
class Bench:
    """What every measurement uses: the app's test client, a server, the store, the database under
    it with a connection of the bench's own for the bare queries, and the watchdog over both connections."""

    client: object
    server: Server
    store: Store
    directory: SQLiteDirectory | PostgresDirectory
    db: sqlite3.Connection | psycopg.Connection
    watchdog: Watchdog
    runs: int
    budget: float


def measure_search(endpoint: Endpoint, bench: Bench) -> dict:
    """Every path of one endpoint, query by query in turn, so noise falls on all of them alike.
    Each query is first asked once through the test client (timed apart: nothing cached for it
    yet); a query whose page or store call runs over the limit, or fails, is left out of every series."""
    queries, limit = endpoint.queries, bench.watchdog.limit
    filters = [Filters.from_args(q) for q in queries]
    urls = [url_of(endpoint.path, q) for q in queries]
    series = [Series(f"{endpoint.path} (test client)"), Series(f"{endpoint.path} (HTTP, 127.0.0.1)"),
              Series(endpoint.baseline_label), Series(bench.directory.bare_label)]
    first = Series(f"{endpoint.path}, first asked (test client)")
    calls = [lambda k: bench.client.get(urls[k]).status_code, lambda k: bench.server.get(urls[k]),
             lambda k: endpoint.baseline(bench.store, filters[k]),
             lambda k: bench.directory.count_text(bench.db, queries[k]["q"]) if queries[k].get("q") else None]
    matches, given_up = {}, {}
    for k in range(len(queries)):
        status, seconds, over = bench.watchdog.run(calls[0], k)
        found, _, over_too = (None, 0, False) if over or status != 200 else bench.watchdog.run(calls[2], k)
        if over or over_too or status != 200:
            given_up[k] = (f"the page ran over {limit:,.0f} s and was interrupted" if over else f"answered {status}"
                           if status != 200 else f"{endpoint.baseline_label} ran over {limit:,.0f} s and was interrupted")
        else:
            first.add(k, seconds)
            matches[k] = found
    live = [k for k in range(len(queries)) if k not in given_up]
    for n in rounds(bench.runs, bench.budget, minimum=len(live)):
        if not live:
            break
        k = live[n % len(live)]
        for i, (s, call) in enumerate(zip(series, calls)):
            if i == 3 and not queries[k].get("q"):
                continue
            result, seconds, over = bench.watchdog.run(call, k)
            if over or (i < 2 and result != 200):
                given_up[k] = f"{s.label} ran over {limit:,.0f} s" if over else f"{s.label} answered {result}"
                live.remove(k)
                matches.pop(k)
                for each in [*series, first]:
                    each.drop(k)
                break
            s.add(k, seconds)
    page = series[0]
    slowest = max(page.runs, key=lambda k: statistics.median(page.runs[k]), default=None)
    return {"series": series, "first": first, "matches": list(matches.values()),
            "given_up": {shown(endpoint.path, queries[k]): why for k, why in sorted(given_up.items())},
            "slowest": (shown(endpoint.path, queries[slowest]), statistics.median(page.runs[slowest])) if slowest is not None else None}


def measure_ics(bench: Bench) -> dict:
    """The town's subscription in full (first while its events are not yet written, then again),
    and its 304, beside the store call the view makes and the store's dates for the same town and year."""
    from webapp.directory import event_range
    limit = bench.watchdog.limit
    filters = Filters.from_args({"town": ICS_TOWN[0]})
    year = event_range(filters, TODAY)
    dates, _, over = bench.watchdog.run(bench.store.occurrences_in, filters, *year)
    first, first_seconds, over_too = (None, 0, False) if over else bench.watchdog.run(bench.client.get, ICS_URL)
    if over or over_too:
        return {"url": ICS_SHOWN, "given_up": f"{'Store.occurrences_in' if over else 'the calendar'} ran over {limit:,.0f} s"}
    if first.status_code != 200 or not first.content_type.startswith("text/calendar"):
        return {"url": ICS_SHOWN, "given_up": f"it answers {first.status_code} {first.content_type}"}
    # The ETag depends on the address asked for, so the server's answer has its own.
    body, etag, etag_http = first.get_data(), first.headers.get("ETag"), bench.server.head_of(ICS_URL)[1].get("ETag")
    cold = Series("full, first (test client)")
    cold.add(0, first_seconds)
    full, full_http = Series("full (test client)"), Series("full (HTTP, 127.0.0.1)")
    cached, cached_http = Series("304 (test client)"), Series("304 (HTTP, 127.0.0.1)")
    listed, raw = Series("Store.all_found (the view's call)"), Series("Store.occurrences_in")
    conditional = {"If-None-Match": etag} if etag else {}
    conditional_http = {"If-None-Match": etag_http} if etag_http else {}
    statuses = set()
    for series, call in ((full, lambda: bench.client.get(ICS_URL).get_data()), (full_http, lambda: bench.server.get(ICS_URL)),
                         (cached, lambda: statuses.add(bench.client.get(ICS_URL, headers=conditional).status_code)),
                         (cached_http, lambda: statuses.add(bench.server.get(ICS_URL, conditional_http))),
                         (listed, lambda: bench.store.all_found("event", replace(filters, from_=year[0], to=year[1]))),
                         (raw, lambda: bench.store.occurrences_in(filters, *year))):
        for _ in rounds(bench.runs, bench.budget, minimum=MIN_RUNS):
            _, seconds, over = bench.watchdog.run(call)
            if over:
                break
            series.add(0, seconds)
    return {"url": ICS_SHOWN, "status": first.status_code, "bytes": len(body), "vevents": body.count(b"BEGIN:VEVENT"),
            "etag": etag, "events": len({e["entry_id"] for _, e in dates}), "dates": len(dates),
            "series": [cold, full, full_http, cached, cached_http, listed, raw], "conditional": statuses}


# --- the report -----------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:11,.2f}"


def print_series(series: Series) -> None:
    if series.seconds:
        print(f"  {series.label:<42}{ms(series.median)}{ms(series.p95)}{len(series.seconds):7,}")
    else:
        print(f"  {series.label:<42}{'not measured':>22}")


def print_ratio(label: str, part: Series, base: Series) -> None:
    if part.seconds and base.seconds:
        print(f"    {label:<42}{part.median / base.median:9.1f} x{part.p95 / base.p95:9.1f} x")


def report_directory(directory: SQLiteDirectory | PostgresDirectory, db) -> None:
    kinds = dict(db.execute("SELECT kind, count(*) FROM entries WHERE withdrawn_at IS NULL GROUP BY kind").fetchall())
    dates = db.execute("SELECT count(*) FROM occurrences").fetchone()[0]
    print(f"directory: {kinds.get('offer', 0):,} offers, {kinds.get('event', 0):,} events with {dates:,} dates, "
          f"{kinds.get('organisation', 0):,} organisations; {directory.size(db)}")


def report_search(path: str, figures: dict) -> None:
    app, over_http, store, fts = figures["series"]
    reasons = set(figures["given_up"].values())
    if not figures["matches"] and len(reasons) == 1:
        print(f"{path}: left out, every query {reasons.pop()}")
        return
    matches = sorted(figures["matches"])
    if matches:
        print(f"{path}: {len(matches)} queries measured, matching {matches[0]:,} to {matches[-1]:,} "
              f"(median {statistics.median(matches):,.0f})")
    else:
        print(f"{path}: no query measured")
    for series in (app, figures["first"], over_http, store, fts):
        print_series(series)
    print_ratio(f"test client / {store.label}", app, store)
    print_ratio(f"HTTP / {store.label}", over_http, store)
    print_ratio(f"{store.label} / bare count", store.of(fts.runs), fts)  # over the queries with words
    if figures["slowest"]:
        url, seconds = figures["slowest"]
        print(f"    slowest query: {url} ({seconds * 1000:,.1f} ms median through the test client)")
    for url, why in figures["given_up"].items():
        print(f"    LEFT OUT: {url}: {why}")


def report_ics(figures: dict, plan: Plan) -> None:
    if "given_up" in figures:
        print(f"{figures['url']}: left out, {figures['given_up']}")
        return
    _, full, _, cached, _, listed, _ = figures["series"]
    print(f"{figures['url']}: {figures['vevents']:,} VEVENTs, {figures['bytes'] / 2**20:,.1f} MB; the store has "
          f"{figures['events']:,} events there with {figures['dates']:,} dates in the coming year "
          f"(generated: {plan.ics_events:,} events)")
    for series in figures["series"]:
        print_series(series)
    print_ratio("full (test client) / Store.all_found", full, listed)
    print_ratio("304 (test client) / Store.all_found", cached, listed)
    print_ratio("full / 304 (test client)", full, cached)
    if figures["conditional"] != {304}:
        print(f"    NOT OK: If-None-Match with the ETag {figures['etag']} was answered {sorted(figures['conditional'])}, not 304")


def run(args, plan: Plan, directory: SQLiteDirectory | PostgresDirectory) -> None:
    from webapp import create_app
    app = create_app(directory.url, {"TODAY": TODAY})
    # An interrupted query is an error page the report names; its traceback would only bury the figures.
    app.logger.setLevel(logging.CRITICAL)
    store = app.extensions["wegweiser_store"]
    db = directory.connect()
    # The store keeps its one connection to itself (a new one after a reconnect); interrupting it is
    # the only way to bound its statements.
    watchdog = Watchdog(args.request_limit, directory, lambda: [store._db, db])
    bench = Bench(app.test_client(), Server(app), store, directory, db, watchdog, args.queries, args.budget)
    try:
        report_directory(directory, db)
        print(f"{'':44}{'median ms':>11}{'p95 ms':>11}{'runs':>7}")
        for endpoint in ENDPOINTS:
            report_search(endpoint.path, measure_search(endpoint, bench))
        report_ics(measure_ics(bench), plan)  # its first request is measured: the calendar's events not yet written
    finally:
        bench.server.stop()
        db.close()
        store.close()


def on_sqlite(args, plan: Plan) -> None:
    """Generate (or reuse) the SQLite file, measure, and remove the file unless it is to be kept."""
    directory = SQLiteDirectory(args.db or kept_path(plan))
    print(f"backend: {directory.name}, {directory.version()}")
    generated = prepare(plan, directory.path)
    try:
        run(args, plan, directory)
    finally:
        if generated and not (args.keep or args.db):
            remove_database(directory.path)
            with suppress(OSError):  # the folder of kept directories, unless others are kept there
                directory.path.parent.rmdir()


def on_postgresql(args, plan: Plan) -> None:
    """Start a throw-away server, generate the directory into a new database, measure, and remove
    the server with its folder whatever happens."""
    from tests.postgres import started_server
    server = started_server()
    try:
        directory = PostgresDirectory(server.new_database())
        print(f"backend: {directory.name}, {directory.version()}, a throw-away server on 127.0.0.1:{server.port}")
        announce_generating(plan, directory.url)
        generate(directory.url, plan)
        directory.settle()
        run(args, plan, directory)
    finally:
        server.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="the database under the directory; postgresql starts a throw-away server "
                             "(Debian's binaries) and removes it at the end")
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--ics-events", type=int, default=10_000, help="events in the town whose calendar is fetched")
    parser.add_argument("--queries", type=int, default=200, help="runs of each series")
    parser.add_argument("--budget", type=float, default=180, help="seconds after which a series stops early")
    parser.add_argument("--request-limit", type=float, default=30,
                        help="seconds after which a request or store call is interrupted and its query left out")
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument("--keep", action="store_true",
                      help="keep the generated SQLite file for the next run of these sizes (sqlite only: "
                           "a postgresql directory is generated anew each run)")
    kept.add_argument("--db", type=Path, help="use (or generate and keep) the directory at this SQLite file (sqlite only)")
    args = parser.parse_args()
    if not 0 < args.ics_events <= args.events or args.offers < 1:
        parser.error("--ics-events must be between 1 and --events, and --offers at least 1")
    if args.backend == "postgresql" and (args.keep or args.db):
        parser.error("--keep and --db keep a SQLite file; with --backend postgresql the server and its directory "
                     "are always removed at the end")
    plan = Plan(args.offers, args.events, args.ics_events)
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}")
    check_generated(plan)
    if args.backend == "postgresql":
        on_postgresql(args, plan)
    else:
        on_sqlite(args, plan)


if __name__ == "__main__":
    main()
