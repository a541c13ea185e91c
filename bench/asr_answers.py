"""Twenty synthetic interview answers with three key words each, for the recall benchmarks."""

from __future__ import annotations

ANSWERS: list[tuple[str, tuple[str, ...]]] = [
    ("I have five years of experience with Python and databases.", ("experience", "python", "databases")),
    ("A race condition happens when two threads change shared state without a lock.", ("threads", "shared", "lock")),
    ("I would profile the query first and then add an index on the slow columns.", ("profile", "query", "index")),
    ("When my team disagreed about the design, we compared the trade offs together.", ("team", "design", "trade")),
    ("I write tests before I refactor, so that I know nothing breaks.", ("tests", "refactor", "breaks")),
    ("Caching helps when reads are much more frequent than writes.", ("caching", "reads", "writes")),
    ("I would use a message queue to decouple the services and retry failed jobs.", ("queue", "services", "retry")),
    ("The biggest mistake I made was shipping without monitoring.", ("mistake", "shipping", "monitoring")),
    (
        "To scale the system I would add read replicas and split the data by customer.",
        ("scale", "replicas", "customer"),
    ),
    (
        "I explain technical decisions to managers with simple diagrams and clear costs.",
        ("managers", "diagrams", "costs"),
    ),
    ("A deadlock needs mutual exclusion and a circular wait between processes.", ("deadlock", "circular", "processes")),
    ("I prioritise bugs by their impact on users and how often they happen.", ("bugs", "impact", "users")),
    ("Code review is where I learn the most from my colleagues.", ("code", "review", "colleagues")),
    ("I would roll back the deployment first and investigate the logs afterwards.", ("roll", "deployment", "logs")),
    ("An index speeds up reads but slows down writes and uses more memory.", ("index", "writes", "memory")),
    ("I keep the customer informed with short updates every day until it is fixed.", ("customer", "updates", "fixed")),
    ("Microservices add network latency and operational complexity.", ("network", "latency", "complexity")),
    ("I measure success by adoption, error rates and the time it takes to recover.", ("success", "error", "recover")),
    ("Pair programming helped a junior developer on my team become productive.", ("pair", "junior", "developer")),
    (
        "Transactions make a group of changes atomic, so all of them happen or none do.",
        ("transactions", "changes", "atomic"),
    ),
]
