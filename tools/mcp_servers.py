"""The public MCP servers tools/collect_mcp_tools.py collects, and how to start each: pinned
packages from npm and PyPI, with dummy credentials where a server insists on one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Spec:
    """One server: where it comes from and how to start it."""

    server: str  # short id, [a-z0-9-]
    registry: str  # "npm" or "pypi"
    package: str
    version: str
    bin: str | None = None  # executable name; None = the package's only (or first) one
    args: list[str] = field(default_factory=list)  # "{work}" is replaced by a scratch folder
    env: dict[str, str] = field(default_factory=dict)
    license: str | None = None  # stated here only where the package's metadata points elsewhere
    python: str | None = None  # PyPI: a specific interpreter version (default 3.12)
    extra: list[str] = field(default_factory=list)  # PyPI: extra requirements, e.g. "mcp<2" for servers
    # written for the 1.x SDK that do not cap it (2.x removed FastMCP, so they fail at import)


def npm(server: str, package: str, version: str, **kw: Any) -> Spec:
    return Spec(server, "npm", package, version, **kw)


def pypi(server: str, package: str, version: str, **kw: Any) -> Spec:
    return Spec(server, "pypi", package, version, **kw)


X = "x"  # the dummy credential
HOME_DIRS = ["", ".gmail-mcp"]  # made in the servers' scratch HOME (gmail copies its keys file there)
# modelcontextprotocol/servers: package.json says "SEE LICENSE IN LICENSE" and ships no LICENSE; the
# repository's LICENSE is Apache-2.0 for new contributions with the existing code kept under MIT.
MCP_REPO_LICENSE = "Apache-2.0 AND MIT"

# Tried and left out (collected 2026-12-07; see bench/data/mcp-tools/SOURCE.md):
#   license not MIT/Apache/BSD/ISC/MPL or not stated: @sentry/mcp-server (FSL-1.1-ALv2), edge-tts-mcp (LGPL),
#     mcp-server-docker (GPL), @browsermcp/mcp, mcp-obsidian, @skanda-yutori/mcp-send-email, mcp-server-sqlite,
#     mcp-server-sentry (no license in the package).
#   would not list tools here: @modelcontextprotocol/server-redis and @benborla29/mcp-server-mysql (connect at
#     start), @stripe/mcp and @apify/actors-mcp-server (fetch their tools from the vendor),
#     @supabase/mcp-server-supabase (fetch at start), mcp-server-qdrant (downloads an embedding model),
#     podman-mcp-server (needs a podman socket), mcp-run-python (needs deno), mcp-ocr, chroma-mcp and
#     @heroku/mcp-server (crash at start), @executeautomation/database-server and mcp-sqlite (native sqlite3
#     needs install scripts), @just-every/mcp-read-website-fast, @coingecko/coingecko-mcp and mcp-spotify
#     (would not install).
#   broken listing: @modelcontextprotocol/server-gitlab (9 tools whose inputSchema is only {"$schema": ...}).
#   listed fine but left out to keep to 70 servers: server-everything, server-gdrive, server-aws-kb-retrieval,
#     server-pdf, server-wiki-explorer, server-brave-search (superseded by @brave/brave-search-mcp-server),
#     @executeautomation/playwright-mcp-server, @browserbasehq/mcp-server-browserbase,
#     @agentdeskai/browser-tools-mcp, fetcher-mcp, mcp-searxng, mcp-deepwiki, wikipedia-mcp (npm),
#     mcp-simple-arxiv, paper-search-mcp, reddit-mcp-buddy, mcp-youtube, youtube-transcript-mcp,
#     @cyanheads/git-mcp-server, @circleci/mcp-server-circleci, mcp-grafana, pagerduty-mcp, replicate-mcp,
#     cli-mcp-server, @negokaz/excel-mcp-server, @bytebase/dbhub, mcp-server-duckdb, mcp-server-motherduck,
#     mcp-clickhouse, @pinecone-database/mcp, @tacticlaunch/mcp-linear, @aashari/mcp-server-atlassian-jira,
#     @shortcut/mcp, @mondaydotcomorg/monday-api-mcp, @softeria/ms-365-mcp-server, @line/line-bot-mcp-server,
#     @cablate/mcp-google-map, yfmcp, @translated/lara-mcp.
SERVERS: list[Spec] = [
    # --- reference servers (modelcontextprotocol) -------------------------------------------------
    npm(
        "filesystem", "@modelcontextprotocol/server-filesystem", "2026.8.31", args=["{work}"], license=MCP_REPO_LICENSE
    ),
    npm("memory", "@modelcontextprotocol/server-memory", "2026.8.31", license=MCP_REPO_LICENSE),
    npm(
        "sequential-thinking", "@modelcontextprotocol/server-sequential-thinking", "2026.8.31", license=MCP_REPO_LICENSE
    ),
    npm("github", "@modelcontextprotocol/server-github", "2025.4.8", env={"GITHUB_PERSONAL_ACCESS_TOKEN": X}),
    npm("slack", "@modelcontextprotocol/server-slack", "2025.4.25", env={"SLACK_BOT_TOKEN": X, "SLACK_TEAM_ID": X}),
    npm("puppeteer", "@modelcontextprotocol/server-puppeteer", "2025.5.12"),
    npm("google-maps", "@modelcontextprotocol/server-google-maps", "0.6.2", env={"GOOGLE_MAPS_API_KEY": X}),
    npm("postgres", "@modelcontextprotocol/server-postgres", "0.6.2", args=["postgresql://127.0.0.1:1/none"]),
    npm("everart", "@modelcontextprotocol/server-everart", "0.6.2", env={"EVERART_API_KEY": X}),
    pypi("git", "mcp-server-git", "2026.10.19"),
    pypi("fetch", "mcp-server-fetch", "2026.10.24"),
    pypi("time", "mcp-server-time", "2026.10.19"),
    # --- browsers ----------------------------------------------------------------------------------
    npm("playwright", "@playwright/mcp", "0.0.86", args=["--headless"]),
    npm("chrome-devtools", "chrome-devtools-mcp", "1.11.0", bin="chrome-devtools-mcp", args=["--headless"]),
    # --- web search and research -------------------------------------------------------------------
    npm("brave-search", "@brave/brave-search-mcp-server", "2.1.4", env={"BRAVE_API_KEY": X}),
    npm("tavily", "tavily-mcp", "0.2.22", env={"TAVILY_API_KEY": X}),
    npm("exa", "exa-mcp-server", "3.4.1", env={"EXA_API_KEY": X}),
    npm("firecrawl", "firecrawl-mcp", "3.26.0", env={"FIRECRAWL_API_KEY": X}),
    npm("perplexity", "@perplexity-ai/mcp-server", "1.2.1", env={"PERPLEXITY_API_KEY": X}),
    pypi("duckduckgo", "duckduckgo-mcp-server", "0.7.0"),
    npm("context7", "@upstash/context7-mcp", "4.1.1"),
    pypi("aws-docs", "awslabs-aws-documentation-mcp-server", "1.2.3", bin="awslabs.aws-documentation-mcp-server"),
    pypi("wikipedia", "wikipedia-mcp", "2.0.1"),
    pypi("arxiv", "arxiv-mcp-server", "0.8.2", args=["--storage-path", "{work}/papers"]),
    npm("pubmed", "@cyanheads/pubmed-mcp-server", "2.7.4"),
    pypi("hacker-news", "hacker-news-mcp-py", "0.2.0", bin="hacker-news-mcp", extra=["mcp<2"]),
    pypi("reddit", "mcp-server-reddit", "0.2.1", extra=["mcp<2"]),
    pypi("news", "mcp-news", "1.1.2", extra=["mcp<2"]),
    npm("youtube-transcript", "@kimtaeyoon83/mcp-server-youtube-transcript", "0.1.1"),
    npm("youtube-data", "youtube-data-mcp-server", "1.0.16", env={"YOUTUBE_API_KEY": X}),
    # --- developer platforms -----------------------------------------------------------------------
    npm("kubernetes", "mcp-server-kubernetes", "4.1.7"),
    npm("datadog", "@winor30/mcp-server-datadog", "1.8.0", env={"DATADOG_API_KEY": X, "DATADOG_APP_KEY": X}),
    npm("figma", "figma-developer-mcp", "0.13.2", args=["--stdio"], env={"FIGMA_API_KEY": X}),
    # --- shells, code execution, files and documents ----------------------------------------------
    npm("desktop-commander", "@wonderwhy-er/desktop-commander", "0.2.52", bin="desktop-commander"),
    pypi("shell", "mcp-shell-server", "1.1.14", env={"ALLOW_COMMANDS": "ls,cat,pwd,grep,wc,find"}),
    npm("code-runner", "mcp-server-code-runner", "0.1.8"),
    npm("pdf-reader", "@sylphx/pdf-reader-mcp", "2.4.0"),
    pypi("pdf-tools", "pdf-tools-mcp", "0.1.4", python="3.12", extra=["mcp<2"]),
    pypi("markitdown", "markitdown-mcp", "0.0.1a8"),
    pypi("pandoc", "mcp-pandoc", "0.11.1"),
    pypi("word", "office-word-mcp-server", "1.1.11"),
    pypi("powerpoint", "office-powerpoint-mcp-server", "2.0.7", extra=["mcp<2"]),
    pypi("excel", "excel-mcp-server", "2.2.2", args=["stdio"], env={"EXCEL_FILES_PATH": "{work}"}),
    npm("obsidian", "obsidian-mcp-server", "3.1.5", env={"OBSIDIAN_API_KEY": X}),
    # --- charts and diagrams -----------------------------------------------------------------------
    npm("chart", "@antv/mcp-server-chart", "0.9.10"),
    npm("mermaid", "mcp-mermaid", "0.4.1"),
    npm("drawio", "@drawio/mcp", "1.6.1"),
    pypi("calculator", "mcp-server-calculator", "0.2.1"),
    # --- databases ---------------------------------------------------------------------------------
    npm("mongodb", "mongodb-mcp-server", "3.0.4"),
    npm("airtable", "airtable-mcp-server", "1.14.0", env={"AIRTABLE_API_KEY": X}),
    # --- productivity and communication ------------------------------------------------------------
    npm("notion", "@notionhq/notion-mcp-server", "2.5.2", env={"NOTION_TOKEN": X}),
    pypi(
        "atlassian",
        "mcp-atlassian",
        "0.23.1",
        env={
            "JIRA_URL": "https://x.atlassian.net",
            "JIRA_USERNAME": "x@example.com",
            "JIRA_API_TOKEN": X,
            "CONFLUENCE_URL": "https://x.atlassian.net/wiki",
            "CONFLUENCE_USERNAME": "x@example.com",
            "CONFLUENCE_API_TOKEN": X,
        },
    ),
    npm("asana", "@roychri/mcp-server-asana", "1.8.0", env={"ASANA_ACCESS_TOKEN": X}),
    npm("todoist", "@doist/todoist-mcp", "11.0.0", bin="todoist-mcp", env={"TODOIST_API_KEY": X}),
    npm(
        "trello",
        "@delorenj/mcp-server-trello",
        "1.8.1",
        env={"TRELLO_API_KEY": X, "TRELLO_TOKEN": X, "TRELLO_BOARD_ID": X},
    ),
    npm("hubspot", "@hubspot/mcp-server", "0.4.0", env={"PRIVATE_APP_ACCESS_TOKEN": X}),
    npm(
        "google-calendar",
        "@cocal/google-calendar-mcp",
        "2.6.3",
        env={"GOOGLE_OAUTH_CREDENTIALS": "{work}/gcp-oauth.keys.json"},
    ),
    npm("gmail", "@gongrzhe/server-gmail-autoauth-mcp", "1.1.11"),
    pypi(
        "google-workspace",
        "workspace-mcp",
        "2.2.1",
        bin="workspace-mcp",
        env={"GOOGLE_OAUTH_CLIENT_ID": X, "GOOGLE_OAUTH_CLIENT_SECRET": X},
    ),
    pypi("email", "mcp-email-server", "1.13.3", args=["stdio"]),
    npm("discord", "mcp-discord", "1.3.4", env={"DISCORD_TOKEN": X}),
    pypi(
        "home-assistant",
        "ha-mcp",
        "3.5.1",
        bin="ha-mcp",
        env={"HOMEASSISTANT_URL": "http://127.0.0.1:1", "HOMEASSISTANT_TOKEN": X},
    ),
    # --- maps, travel, weather ---------------------------------------------------------------------
    npm("mapbox", "@mapbox/mcp-server", "0.14.0", env={"MAPBOX_ACCESS_TOKEN": X}),
    npm("airbnb", "@openbnb/mcp-server-airbnb", "0.3.0"),
    npm("weather", "@dangahagan/weather-mcp", "1.23.0"),
    npm("open-meteo", "open-meteo-mcp-server", "2.1.0"),
    # --- finance -----------------------------------------------------------------------------------
    pypi("yahoo-finance", "mcp-yahoo-finance", "0.2.0"),
    npm("ccxt", "@mcpfun/mcp-server-ccxt", "1.2.1"),
    # --- language, media ---------------------------------------------------------------------------
    npm("deepl", "deepl-mcp-server", "0.1.3-beta.0", env={"DEEPL_API_KEY": X}),
    pypi("spotify", "mcp-server-spotify", "0.4.0", env={"SPOTIFY_CLIENT_ID": X, "SPOTIFY_CLIENT_SECRET": X}),
]
