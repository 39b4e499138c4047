"""Realistic reference records for tests of reference collections, the same on every run.

Nodes of a workflow-automation product (`workflow_nodes`: id `type`, category `group`) and webhook events
of a CRM / commerce / developer platform (`events`: id `name`, category `category`), mostly written one
per line so they read like real documentation; the repetitive parts (CRUD on CRM objects, created /
updated / deleted events) are composed from phrasings that vary with the object. `PARAPHRASED_QUERIES`
pairs needs in a user's own words with the one record that answers each; `write_collection` writes files.
No randomness, and no I/O outside `write_collection`; it knows nothing of the gateway.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

# `[group]` starts a section; a row is `app.operation | properties | description`, and an indented line
# continues the description. Properties are `name[:type][?]` (`?` = optional). Operations named
# `on<Something>` are triggers whatever their section.
NODE_TABLE = """
[trigger]
core.manualTrigger | | Starts the workflow when you press Execute in the editor; handy while building it.
core.webhook | path, httpMethod | Starts the workflow whenever an HTTP request arrives at its unique URL.
  The request body, headers and query string become the first item.
core.scheduleTrigger | rule, timezone? | Starts the workflow on a timetable: every few minutes, daily at a set hour,
  or from a cron expression.
core.errorTrigger | | Runs when another workflow fails, passing on the failing node, the error and the execution id.
core.workflowTrigger | inputSchema:json? | Lets this workflow be called as a sub-workflow, receiving the caller's items.
core.formTrigger | formTitle, fields:array | Serves a hosted web form and starts the workflow with each submission.
core.chatTrigger | | Opens a chat window and starts the workflow for every message a user types into it.
core.emailImapTrigger | mailbox, host | Watches an IMAP mailbox and emits each newly arrived email with its attachments.
core.rssFeedTrigger | url | Checks an RSS or Atom feed at intervals and emits every article published since.
[logic]
core.if | conditions | Routes each item down a true or a false branch depending on whether it meets your conditions.
core.switch | rules:array | Sends each item to one of several outputs by matching rules, like a case statement.
core.merge | mode | Waits for two incoming branches and combines their items, by position or by a shared key.
core.filter | conditions | Keeps only the items that satisfy the conditions and silently drops the rest.
core.loopOverItems | batchSize:number | Feeds incoming items through the loop in batches, one batch at a time.
core.wait | resume, amount:number? | Pauses the execution for a set time, until a date, or until a webhook resumes it.
core.executeWorkflow | workflowId | Calls another saved workflow as a sub-routine and hands its output back.
core.stopAndError | errorMessage | Halts the execution and marks it as failed with an error message you choose.
core.noOp | | Does nothing and passes items through unchanged; useful as a labelled placeholder on the canvas.
core.compareDatasets | fieldA, fieldB | Compares two inputs on a key: only in A, only in B, the same, or different.
core.respondToWebhook | respondWith, responseCode:number? | Sends a custom HTTP reply to a caller waiting on a webhook.
[transform]
core.editFields | assignments:array | Sets, renames or overwrites fields on each item, or builds new ones by expression.
core.renameKeys | keys:array | Changes the names of fields on every item without touching their values.
core.sort | sortFields:array | Reorders items by one or more fields, ascending or descending, or shuffles them.
core.limit | maxItems:number | Keeps only the first or last N items and discards the rest.
core.aggregate | fields:array | Collapses many items into a single item whose fields hold lists of the original values.
core.splitOut | field | Turns a list held inside one item into separate items, one per element.
core.removeDuplicates | fields:array? | Drops items that repeat an earlier one, on every field or only those you pick.
core.summarize | fields:array, groupBy? | Computes counts, sums, averages, minimums or maximums per group, like a pivot.
core.dateTime | operation, format? | Parses, formats and shifts dates, e.g. adding three days or changing the time zone.
core.crypto | action, algorithm | Hashes, signs with HMAC or generates random values, e.g. a SHA-256 digest of a field.
core.xml | mode | Converts XML documents to JSON objects and back.
core.html | operation, cssSelector? | Extracts text or attributes from HTML with CSS selectors, or renders a table.
core.extractFromFile | fileFormat | Reads a CSV, XLSX, PDF or JSON file and turns its contents into items.
core.convertToFile | fileFormat, fileName? | Writes the incoming items out as a CSV, XLSX, JSON or plain text file.
[core]
core.httpRequest | method, url, body:json? | Calls any REST API or web page with the method, headers and body you set.
core.code | language, jsCode | Runs your own JavaScript or Python against the items, once for all or once per item.
core.executeCommand | command | Runs a shell command on the host machine and returns its stdout and stderr.
core.ssh | host, command | Connects to a remote server over SSH to run a command or transfer a file.
core.ftp | operation, path | Lists, uploads, downloads, renames or deletes files on an FTP or SFTP server.
core.readWriteFiles | operation, path | Reads files from, or writes them to, the disk of the machine running it.
core.sendEmail | from, to, subject, body | Sends an email through your own SMTP server, with HTML and attachments.
[ai]
ai.agent | systemMessage?, tools:array? | An agent that reasons about a goal and picks which connected tools to call.
ai.textClassifier | categories:array, inputText | Assigns each text to one of the categories you describe, using an LLM.
ai.sentimentAnalysis | inputText | Rates the tone of a text as positive, neutral or negative, with a confidence score.
ai.informationExtractor | inputText, schema:json | Pulls structured fields such as names, dates or amounts out of prose.
ai.summarizationChain | inputText | Condenses long documents into a short summary by summarizing them chunk by chunk.
ai.vectorStoreInsert | documents:array | Splits documents into chunks, embeds them and stores them in a vector database.
ai.vectorStoreRetrieve | query, topK:number? | Finds the stored chunks closest in meaning to a question, for RAG.
openai.chat | model, messages:array | Sends a prompt to a GPT model such as gpt-4o and returns the reply.
openai.generateImage | prompt, size? | Creates a picture from a text prompt with DALL-E and returns it as binary data.
openai.transcribe | binaryProperty | Turns the speech in an audio recording into written text using Whisper.
openai.analyzeImage | binaryProperty, prompt | Describes what is in a photo, or answers a question about it.
anthropic.message | model, messages:array | Sends a conversation to a Claude model and returns its answer.
deepl.translate | text, targetLanguage | Translates text into another language while keeping its formatting.
[action]
slack.sendMessage | channel, text, threadTs? | Sends text or Block Kit content to a channel, a direct chat or a thread.
slack.updateMessage | channel, ts, text | Edits the text of a message the bot sent earlier, found by its timestamp.
slack.addReaction | channel, ts, emoji | Reacts to a message with an emoji such as :white_check_mark: or :eyes:.
slack.uploadFile | channels:array, binaryProperty | Shares a file from the workflow into one or more conversations.
slack.createChannel | name, isPrivate:boolean? | Opens a new public or private conversation in the workspace.
slack.inviteToChannel | channel, userIds:array | Adds one or more workspace members to a conversation.
slack.getUserByEmail | email | Looks up a workspace member from their email address and returns their profile.
slack.onMessage | channel? | Fires for every new message posted in the conversations the bot belongs to.
slack.onMention | | Fires when someone @-mentions the app anywhere in the workspace.
slack.onReactionAdded | | Fires when a member adds an emoji reaction to a message.
gmail.send | to, subject, message | Sends an email from the connected Google account, with an HTML or plain-text body.
gmail.reply | messageId, message | Answers an email inside the same conversation thread, keeping subject and recipients.
gmail.addLabels | messageId, labelIds:array | Tags an email with one or more labels, for example Invoices or Follow up.
gmail.search | query, limit | Finds emails with Gmail search syntax like from:, has:attachment or newer_than:7d.
gmail.onNewEmail | filters? | Polls the inbox and emits each newly received email, or only those matching a search.
telegram.sendMessage | chatId, text | Sends a text message from your bot to a user, a group or a channel.
telegram.sendPhoto | chatId, binaryProperty, caption? | Sends a picture to a chat, with an optional caption.
telegram.sendDocument | chatId, binaryProperty | Sends any file, such as a PDF or a spreadsheet, to a chat.
telegram.onUpdate | updates:array | Fires for every update the bot receives: messages, commands, button taps.
twilio.sendSms | from, to, body | Sends a text message to a phone number from one of your Twilio numbers.
twilio.sendWhatsApp | from, to, body | Sends a WhatsApp message through a Twilio WhatsApp sender.
twilio.onIncomingSms | | Fires when one of your numbers receives a text message, with the sender and the body.
hubspot.addContactToList | listId, email | Adds a contact to a static list, for example a newsletter segment.
hubspot.onContactCreated | | Fires when a new contact is added to the HubSpot account.
hubspot.onDealStageChanged | pipelineId? | Fires when a deal moves to another stage of a pipeline.
hubspot.onFormSubmitted | formId | Fires when a visitor submits a HubSpot form on your website.
salesforce.convertLead | leadId | Turns a qualified lead into an account, a contact and optionally an opportunity.
salesforce.runSoql | query | Runs a SOQL query and returns the matching records of any object.
salesforce.onRecordCreated | objectType | Fires when a record of the chosen object, such as Lead or Case, is created.
salesforce.onRecordUpdated | objectType | Fires when any record of the chosen object is modified.
pipedrive.createDeal | title, value:number | Opens a new deal in a pipeline with its value and the person it is for.
pipedrive.onDealUpdated | | Fires when a deal's value, stage or status changes.
googleSheets.appendRow | documentId, sheetName, values:json | Adds a row of values after the last filled row of a sheet.
googleSheets.updateRow | documentId, sheetName, matchColumn | Finds the row whose key column matches and overwrites it.
googleSheets.appendOrUpdate | documentId, sheetName, matchColumn | Updates the row with a matching key, or adds it.
googleSheets.lookupRows | documentId, sheetName, filters:json | Returns the rows whose columns hold the values you give.
googleSheets.readRange | documentId, range | Reads every cell in an A1 range such as Sheet1!A1:D50, one item per row.
googleSheets.deleteRows | documentId, sheetName, startIndex:number | Removes rows and shifts the ones below up.
googleSheets.onRowAdded | documentId, sheetName | Fires when a new row appears at the bottom of a sheet.
googleSheets.onRowUpdated | documentId, sheetName | Fires when cells in an existing row are changed.
postgres.executeQuery | query, queryParams:array? | Runs any SQL statement you write, with positional parameters.
postgres.insert | schema, table | Adds new rows to a table, mapping item fields onto columns.
postgres.update | schema, table, matchColumn | Changes the rows of a table that match on a key column.
postgres.upsert | schema, table, matchColumn | Inserts rows, or updates them where a row with the same key exists.
postgres.onNotify | channel | Listens on a LISTEN/NOTIFY channel and fires for every notification the database sends.
mysql.executeQuery | query | Runs a query against a MySQL or MariaDB database and returns the result set.
mongodb.find | collection, filter:json | Returns the documents of a collection that match a filter document.
redis.set | key, value, ttl:number? | Stores a value under a key, optionally expiring after a number of seconds.
redis.increment | key | Adds one to a counter, creating it at zero first; useful for rate limiting.
notion.createPage | parentId, title | Creates a page inside a parent page, or a new entry in a database.
notion.queryDatabase | databaseId, filter:json? | Returns the entries matching property filters, like Status is Done.
notion.updatePage | pageId, properties:json | Changes the properties of a database entry, like its status or assignee.
notion.onPageAdded | databaseId | Fires when a new entry is added to a database.
airtable.createRecord | baseId, tableId, fields:json | Inserts a new row into an Airtable table.
airtable.listRecords | baseId, tableId, formula? | Returns the records of a table or view, filtered by a formula.
airtable.onRecordChanged | baseId, tableId | Fires when a record in a table or a view is created or modified.
stripe.createCustomer | email, name? | Creates a customer that cards, subscriptions and invoices can belong to.
stripe.createPaymentIntent | amount, currency, customerId | Starts collecting a payment of some amount from a customer.
stripe.createRefund | chargeId, amount? | Returns all or part of a charge to the card it was paid with.
stripe.createInvoice | customerId, items:array | Bills a customer for line items and emails them the invoice.
stripe.createSubscription | customerId, priceId | Signs a customer up for recurring billing on a price plan.
stripe.cancelSubscription | subscriptionId | Stops recurring billing, immediately or at the end of the current period.
stripe.createCheckoutSession | priceId, successUrl | Generates a link to a hosted payment page customers can pay on.
stripe.onEvent | events:array | Fires for the account events you pick, such as a successful charge or a failed payment.
shopify.createOrder | lineItems:array, email? | Creates an order in the store, e.g. for a sale taken by phone.
shopify.createProduct | title, variants:array | Adds a product with its variants, prices and images to the catalog.
shopify.adjustInventory | inventoryItemId, delta:number | Raises or lowers the stock of a variant at a location.
shopify.createFulfillment | orderId, trackingNumber? | Marks order items as shipped and emails the tracking details.
shopify.createDiscountCode | priceRuleId, code | Creates a code shoppers can enter at checkout to get money off.
shopify.onOrderCreated | | Fires when a customer places an order in the store.
shopify.onProductUpdated | | Fires when a product's details, price or stock change.
github.createIssue | owner, repository, title, body? | Opens an issue in a repository to track a bug, a task or an idea.
github.createComment | owner, repository, issueNumber:number | Adds a comment to an issue or a pull request.
github.createPullRequest | owner, repository, head, base | Proposes merging one branch into another, open for review.
github.mergePullRequest | owner, repository, pullNumber:number | Lands an approved pull request by merge or squash.
github.createRelease | owner, repository, tagName | Publishes a release for a tag, with notes and downloadable assets.
github.dispatchWorkflow | owner, repository, workflowId | Starts a GitHub Actions run of a workflow_dispatch workflow.
github.onPush | owner, repository | Fires when commits are pushed to any branch of the repository.
github.onPullRequest | owner, repository | Fires when a pull request is opened, updated, closed or merged.
github.onIssueOpened | owner, repository | Fires when someone files a new issue in the repository.
jira.createIssue | project, issueType, summary | Creates a story, bug or task in a Jira Software project.
jira.transitionIssue | issueKey, transitionId | Moves an issue along its workflow, for example from In Progress to Done.
jira.assignIssue | issueKey, accountId | Gives an issue to a team member, or clears its assignee.
jira.searchIssues | jql, limit | Finds issues with a JQL query like project = WEB AND status = "To Do".
jira.onIssueUpdated | project? | Fires when an issue is created, edited or changes status.
discord.sendMessage | webhookUrl, content | Posts text or rich embeds into a server channel through a webhook.
discord.onMessage | channelId | Fires for each new message in a server channel the bot can read.
microsoftTeams.sendChannelMessage | teamId, channelId, content | Posts a message to one of a team's channels.
microsoftTeams.sendChatMessage | chatId, content | Sends a message into a one-on-one or group chat.
microsoftTeams.onChannelMessage | teamId, channelId | Fires when someone writes in a channel of a team.
mailchimp.addMember | listId, email, status | Adds an email address to an audience as subscribed or pending.
mailchimp.createCampaign | listId, subject | Drafts a regular email campaign for an audience or a segment.
mailchimp.sendCampaign | campaignId | Sends a ready campaign to all of its recipients right away.
mailchimp.onSubscribe | listId | Fires when someone joins an audience.
x.createPost | text, mediaIds:array? | Publishes a tweet on the connected X account, with up to four images.
x.searchPosts | query, limit | Searches recent tweets with operators like from:, #hashtag or lang:.
x.onMention | | Fires when another account mentions yours.
dropbox.upload | path, binaryProperty | Saves a file into a Dropbox folder, overwriting or renaming on conflict.
dropbox.createSharedLink | path | Creates a link that anyone can use to view a file.
dropbox.onFileAdded | path | Fires when a file is added to a watched folder.
s3.uploadObject | bucket, key, binaryProperty | Stores a file as an object in a bucket under the key you choose.
s3.downloadObject | bucket, key | Retrieves an object from a bucket as binary data.
s3.listObjects | bucket, prefix? | Lists the keys in a bucket, optionally only those under a prefix.
s3.deleteObject | bucket, key | Deletes an object from a bucket.
s3.presignUrl | bucket, key, expiresIn:number | Generates a time-limited URL that lets anyone download a private object.
s3.onObjectCreated | bucket, prefix? | Fires when a new object lands in a bucket, through an event notification.
googleDrive.upload | folderId, binaryProperty | Uploads a file into a Drive folder.
googleDrive.share | fileId, email, role | Gives someone viewer, commenter or editor access to a file or a folder.
googleDrive.onFileCreated | folderId | Fires when a file is created or uploaded in a folder.
googleCalendar.createEvent | calendarId, start:dateTime, end:dateTime | Books an event with guests and a video link.
googleCalendar.updateEvent | calendarId, eventId | Moves an event to another time or changes its title, guests or place.
googleCalendar.checkAvailability | calendarId, timeMin:dateTime | Tells whether a calendar is free or busy in a window.
googleCalendar.onEventStarted | calendarId | Fires shortly before, or when, an event begins.
outlook.sendEmail | to, subject, body | Sends an email from a Microsoft 365 or Outlook.com mailbox.
outlook.onNewEmail | folderId? | Fires when a message arrives in an Outlook folder.
zendesk.createTicket | subject, description, requesterEmail | Opens a support ticket on behalf of a customer.
zendesk.updateTicket | ticketId, status?, priority? | Changes a ticket's status, priority, assignee or tags.
zendesk.onTicketCreated | | Fires when a customer submits a new support ticket.
trello.createCard | listId, name, due:dateTime? | Adds a card to a list on a board.
trello.moveCard | cardId, listId | Moves a card to another list, like from Doing to Done.
asana.createTask | projectId, name, dueOn:date? | Creates a task in a project with an assignee and a due date.
zoom.createMeeting | topic, startTime:dateTime | Schedules a video meeting and returns the join link.
zoom.onMeetingEnded | | Fires when a meeting finishes.
typeform.onSubmission | formId | Fires each time someone completes a form, with every answer.
calendly.onInviteeCreated | | Fires when someone books a time through one of your scheduling links.
sendgrid.sendEmail | from, to, templateId | Sends a transactional email built from a dynamic template.
quickbooks.createInvoice | customerId, lines:array | Creates an invoice in your accounting books.
docusign.sendEnvelope | templateId, signers:array | Sends documents out for electronic signature.
"""

# CRM objects that get create / update / get / search / delete nodes: (app, object, fields, what they hold).
CRM_OBJECTS = [
    ("hubspot", "contact", "email firstname lastname lifecyclestage", "email, name and lifecycle stage"),
    ("hubspot", "company", "domain name industry", "domain, industry and owner"),
    ("hubspot", "deal", "dealname amount dealstage closedate", "amount, pipeline stage and close date"),
    ("hubspot", "ticket", "subject hs_pipeline_stage hs_ticket_priority", "subject, status and priority"),
    ("salesforce", "lead", "Company LastName LeadSource", "company, lead source and rating"),
    ("salesforce", "account", "Name BillingCity Industry", "billing address and industry"),
    ("salesforce", "opportunity", "Name Amount StageName CloseDate", "amount, stage and expected close date"),
    ("salesforce", "case", "Subject Status Origin", "subject, status and origin"),
    ("salesforce", "contact", "LastName Email AccountId", "email, account and mailing address"),
    ("zohoCrm", "lead", "Last_Name Company Lead_Source", "company, lead source and status"),
    ("zohoCrm", "account", "Account_Name Industry Website", "industry and website"),
    ("zendesk", "user", "name email role", "name, email and role"),
    ("pipedrive", "person", "name email phone", "name, email and phone"),
    ("pipedrive", "organization", "name address", "name, address and owner"),
]
# Their phrasings, `operation | phrasing`; each object picks one per operation by its position.
CRM_PHRASES = """
create | Creates a new {noun} in {app}, filling in {detail}.
create | Adds a {noun} record to {app} with {detail} taken from the incoming item.
create | Registers a fresh {noun} in your {app} account; map {detail} from earlier nodes.
update | Changes fields on an existing {app} {noun}, such as {detail}, looked up by its id.
update | Overwrites selected properties of a {noun} already stored in {app}, e.g. {detail}.
update | Edits a {noun} in {app}; only the fields you map, like {detail}, are touched.
get | Fetches a single {app} {noun} by id, returning {detail} and any custom properties.
get | Retrieves one {noun} from {app} with all of its fields, including {detail}.
get | Loads the full {noun} record from {app} so later nodes can read {detail}.
search | Finds {app} {plural} matching filters on {detail}, up to the limit you set.
search | Queries {app} for {plural} whose fields, like {detail}, meet your criteria.
search | Lists {plural} in {app}, filtered and sorted by properties such as {detail}.
delete | Removes a {noun} from {app} permanently.
delete | Moves a {app} {noun} to the recycle bin, taking it out of lists and reports.
delete | Deletes the {noun} with the given id from {app}; linked records are kept.
"""

# Properties that recur across nodes: name -> (type, description). Others are strings named by their words.
PROPERTY_GLOSSARY = {
    "channel": ("string", "Channel name or id, e.g. #general."),
    "text": ("string", "The message text; the app's own markdown is supported."),
    "to": ("string", "Recipient address or phone number."),
    "from": ("string", "Sender address or phone number."),
    "binaryProperty": ("string", "Name of the binary field that holds the file."),
    "documentId": ("string", "Spreadsheet id, as found in its URL."),
    "query": ("string", "Search expression or statement to run."),
    "limit": ("number", "Maximum number of results to return."),
    "owner": ("string", "Account or organisation that owns the repository."),
    "conditions": ("json", "Comparisons evaluated against each item."),
    "model": ("string", "Model name, e.g. gpt-4o."),
    "amount": ("number", "Amount in the smallest currency unit, e.g. cents."),
    "currency": ("string", "Three-letter ISO currency code."),
}

# Event families: name -> (payload fields, what an update typically touches, generic events it has:
# c)reated u)pdated d)eleted r)estored a)rchived o)wner_changed m) comment_added).
EVENT_FAMILIES = {
    "contact": ("email phone first_name last_name owner_id lifecycle_stage", "email, phone or owner", "cudro"),
    "company": ("name domain industry employee_count:integer owner_id", "name, domain or industry", "cudro"),
    "deal": ("title amount:number currency stage pipeline owner_id close_date:date", "amount or close date", "cudraom"),
    "lead": ("email company source status score:integer", "source, status or company", "cudr"),
    "quote": ("number deal_id total:number currency expires_at:datetime", "line items, discount or expiry", "cua"),
    "meeting": ("title starts_at:datetime ends_at:datetime organizer_id attendees:array", "", ""),
    "task": ("title due_at:datetime assignee_id status", "title, due date or assignee", "cudom"),
    "note": ("body author_id parent_type parent_id", "text or attachments", "cud"),
    "invoice": ("number customer_id amount_due:number currency status due_date:date", "due date or line items", "cum"),
    "order": ("number customer_id total:number currency status line_items:array", "shipping address or notes", "cuam"),
    "cart": ("customer_id items:array subtotal:number currency", "", "c"),
    "coupon": ("code percent_off:number expires_at:datetime", "", "c"),
    "payment": ("amount:number currency method status customer_id", "", ""),
    "refund": ("payment_id amount:number currency reason status", "", "c"),
    "subscription": ("customer_id plan_id status current_period_end:datetime", "quantity or plan", "cu"),
    "product": ("title sku price:number status", "title, description or images", "cudra"),
    "inventory": ("sku location_id available:integer", "", ""),
    "shipment": ("order_id carrier tracking_number status", "", "c"),
    "ticket": ("subject priority status requester_id assignee_id", "subject, tags or custom fields", "cudrm"),
    "user": ("email name role", "name, email or avatar", "cudr"),
    "email": ("message_id recipient campaign_id", "", ""),
    "repository": ("full_name visibility default_branch", "", "cda"),
    "pull_request": ("repository number:integer title author base head", "", "m"),
    "issue": ("repository number:integer title author labels:array state", "", "m"),
    "release": ("repository tag_name name draft:boolean", "", "cd"),
    "deployment": ("repository environment ref url", "", ""),
    "project": ("name owner_id status due_date:date", "name, status or due date", "cudao"),
    "team": ("name description member_count:integer", "name or description", "cud"),
    "campaign": ("name channel budget:number status", "budget, audience or schedule", "cuda"),
    "file": ("name size:integer mime_type folder_id", "name or folder", "cudr"),
    "price": ("product_id unit_amount:number currency interval", "nickname or tax behaviour", "cu"),
}
# Generic events, `event | its letter in EVENT_FAMILIES | extra payload fields | phrasing`; a family
# picks one phrasing per event by its position.
GENERIC_EVENTS = """
created | c | | Fires as soon as a new {noun} is saved, whether typed in, imported or created through the API.
created | c | | Sent once for every {noun} added to the account; the payload carries the complete record.
created | c | | Delivered when a {noun} comes into existence, including those made by automations.
updated | u | changed_fields:array | Fires whenever any field of a {noun} changes, including {fields}.
updated | u | changed_fields:array | Sent when edits to a {noun} are saved, for example to its {fields}.
updated | u | changed_fields:array | Delivered when someone modifies a {noun}, such as its {fields}.
deleted | d | | Fires when a {noun} is removed. Only its id and the time of deletion are included.
deleted | d | | Sent after a {noun} is deleted or moved to the trash; restoring it later sends a separate event.
deleted | d | | Delivered when a {noun} is erased in the app or through the API, so copies can be cleaned up.
restored | r | restored_by | Fires when a {noun} is brought back from the recycle bin with its history intact.
restored | r | restored_by | Sent after a deleted {noun} is recovered, by a person or through the API.
archived | a | archived_by | Fires when a {noun} is archived: it stays searchable but drops out of active lists.
archived | a | archived_by | Sent when a {noun} is closed out and moved to the archive, where it becomes read-only.
owner_changed | o | previous_owner_id | Fires when a {noun} is reassigned to a different owner on the team.
owner_changed | o | previous_owner_id | Sent when responsibility for a {noun} passes from one teammate to another.
comment_added | m | comment_id author_id body | Fires when someone adds a comment to a {noun}, with its text and author.
comment_added | m | comment_id author_id body | Sent for every new note or reply written on a {noun}.
"""

# Family-specific events: `family.event | extra payload fields | description`.
EVENT_TABLE = """
contact.merged | merged_into_id | Fires when two duplicate contacts are combined; the surviving record keeps its id.
contact.lifecycle_stage_changed | previous_stage | Fires when a contact advances from lead to opportunity or customer.
contact.unsubscribed | list_id reason | Sent when a person opts out of marketing emails from one list or from all.
contact.tag_added | tag | Fires when a tag such as vip or newsletter is attached to a contact.
company.merged | merged_into_id | Fires when two duplicate organisations are combined into one.
deal.stage_changed | from_stage to_stage | Fires when a deal moves from one pipeline stage to another, e.g. to Proposal.
deal.won | | Sent when a deal is marked as closed won; its amount becomes booked revenue.
deal.lost | lost_reason | Fires when a deal is marked as closed lost, with the reason the rep picked.
deal.amount_changed | previous_amount:number | Sent when the expected value of a deal goes up or down.
deal.rotting | idle_days:integer | Sent when a deal has had no activity for longer than its stage allows.
lead.converted | contact_id account_id | Fires when a lead becomes a contact, an account and optionally a deal.
lead.qualified | qualified_by | Sent when a sales rep marks a lead as a real sales opportunity.
lead.disqualified | reason | Fires when a lead is ruled out, for example as a student or a competitor.
lead.assigned | assignee_id | Sent when round-robin routing or a manager hands a lead to a rep.
quote.sent | recipient_email | Fires when a price proposal is emailed to the buyer for review.
quote.accepted | signed_by | Sent when the buyer signs the proposal online.
quote.expired | | Sent when a proposal passes its expiry date without being signed.
meeting.scheduled | | Fires when a meeting with a prospect or customer is booked on the calendar.
meeting.rescheduled | previous_starts_at:datetime | Sent when a booked meeting is moved to another time.
meeting.cancelled | cancelled_by reason | Fires when the organizer or an attendee calls off a booked meeting.
task.completed | completed_by | Fires when someone ticks off a follow-up task.
task.overdue | | Sent when a task passes its due date and is still open.
invoice.finalized | | Fires when a draft invoice is locked and given a number, just before it is sent.
invoice.sent | recipient_email | Sent when an invoice is emailed to the customer.
invoice.paid | paid_at:datetime payment_id | Fires when the full amount due on an invoice has been received.
invoice.partially_paid | amount_paid:number | Sent when a payment covers only part of what an invoice asks for.
invoice.payment_failed | failure_reason attempt:integer | Fires when an automatic attempt to collect an invoice fails.
invoice.overdue | days_overdue:integer | Sent the day after an invoice's due date passes while it is still unpaid.
invoice.voided | | Fires when an invoice is cancelled and no longer owed.
invoice.upcoming | | Sent a few days before a subscription generates its next invoice, so you can add line items.
order.paid | payment_id | Fires when the payment for an order is captured.
order.fulfilled | tracking_number | Sent when every item of an order has been packed and handed to the carrier.
order.cancelled | reason restock:boolean | Sent when an order is called off by the customer or the merchant.
order.refunded | refund_id amount:number | Fires when money for an order is given back, in full or in part.
order.return_requested | items:array reason | Sent when a customer asks to send items back.
order.risk_flagged | risk_level | Fires when fraud analysis marks an order as medium or high risk.
cart.abandoned | email recovery_url | Fires if a visitor adds products to a cart but has not checked out within an hour.
cart.checkout_started | | Fires when a shopper proceeds from the cart to the payment step.
coupon.redeemed | order_id customer_id | Fires when a shopper applies a discount code at checkout.
coupon.expired | | Sent when a discount code passes its end date and stops working.
payment.succeeded | charge_id | Fires when a charge goes through and the funds are on their way to your balance.
payment.failed | failure_code failure_message | Sent when a card or bank payment is declined, e.g. for lack of funds.
payment.authorized | expires_at:datetime | Fires when funds are held on a card but not yet captured.
payment.captured | | Sent when a previously held amount is actually collected.
payment.disputed | dispute_id reason | Fires when a cardholder challenges a charge with their bank (a chargeback).
payment.dispute_closed | dispute_id outcome | Sent when a chargeback is resolved in your favour or the cardholder's.
payment.method_expiring | payment_method_id | Sent a month before a saved card reaches its expiry date.
refund.succeeded | | Fires when refunded money has reached the original payment method.
refund.failed | failure_reason | Sent when a refund cannot be delivered, for example because the card was closed.
subscription.cancelled | cancel_reason | Fires when a customer ends their plan, at once or at the end of the period.
subscription.renewed | invoice_id | Sent when a subscription rolls over into a new billing period.
subscription.trial_started | trial_end:datetime | Fires when a customer begins a free trial.
subscription.trial_will_end | trial_end:datetime | Sent three days before a free trial ends, to remind the customer.
subscription.paused | resumes_at:datetime | Fires when billing on a subscription is paused.
subscription.plan_changed | previous_plan_id | Fires when a customer upgrades or downgrades to another plan.
subscription.past_due | invoice_id | Sent when a renewal payment fails and the subscription enters dunning.
subscription.expired | | Fires when a subscription ends for good after its last retry or its fixed term.
product.published | channel | Fires when a product becomes visible on the storefront.
product.price_changed | previous_price:number | Fires when the selling price of a product or a variant changes.
inventory.updated | previous_available:integer | Fires whenever the available quantity of an item at a location changes.
inventory.low_stock | threshold:integer | Sent when the quantity on hand drops below the reorder point you set.
inventory.out_of_stock | | Fires when the last unit of an item is sold and nothing is left to sell.
inventory.restocked | received:integer | Sent when a purchase order is received and units are added back.
shipment.in_transit | location | Sent at each carrier scan while the parcel travels.
shipment.out_for_delivery | | Fires when the carrier loads the parcel onto the vehicle for its final leg.
shipment.delivered | delivered_at:datetime | Sent when the carrier confirms the parcel reached the recipient.
shipment.delayed | new_eta:date | Fires when the carrier pushes back the expected delivery date.
shipment.delivery_failed | reason | Sent when the carrier could not hand over the parcel, for example nobody was home.
shipment.returned_to_sender | | Fires when an undeliverable parcel is on its way back to the warehouse.
ticket.assigned | assignee_id group_id | Fires when a support ticket is given to an agent or a group.
ticket.escalated | level:integer | Sent when a ticket is raised to a higher support tier or to a manager.
ticket.solved | solved_by | Fires when an agent marks a customer's problem as resolved.
ticket.reopened | | Sent when a customer writes back on a solved ticket and it opens again.
ticket.closed | | Fires when a solved ticket is locked for good and can no longer be reopened.
ticket.priority_changed | previous_priority | Sent when a ticket's urgency is raised or lowered.
ticket.sla_breached | policy metric | Fires when a ticket misses a service-level target such as first reply time.
ticket.satisfaction_rated | score comment | Fires when a customer rates the help they got as good or bad.
user.invited | invited_by | Fires when someone is asked by email to join the workspace.
user.signed_in | ip_address | Sent on every successful login to the account.
user.login_failed | ip_address attempts:integer | Sent when a sign-in is rejected because the credentials do not match.
user.password_reset_requested | | Sent when a user asks for a link to choose a new password.
user.role_changed | previous_role | Fires when a user's permissions change, for example from member to admin.
user.deactivated | deactivated_by | Sent when an administrator suspends a user's access.
email.delivered | | Fires when the receiving mail server accepts a message.
email.opened | user_agent | Sent when a recipient opens a message and its tracking pixel loads.
email.clicked | link_url | Fires when a recipient follows a tracked link in a message.
email.bounced | bounce_type | Sent when a message is rejected by the receiving server, permanently or temporarily.
email.spam_reported | | Fires when a recipient marks a message as junk.
repository.pushed | ref before after commits:array | Fires when one or more commits are pushed to a branch or a tag.
repository.renamed | previous_name | Fires when a repository gets a new name.
repository.visibility_changed | previous_visibility | Sent when a repository switches between public and private.
repository.forked | fork_full_name | Fires when someone copies the repository into their own account.
repository.branch_created | ref | Fires when a new branch appears in the repository.
pull_request.opened | | Fires when someone proposes a set of changes for review.
pull_request.closed | | Sent when a pull request is closed without its changes being merged.
pull_request.merged | merge_commit_sha merged_by | Fires when a pull request's changes land in the base branch.
pull_request.reopened | | Sent when a closed pull request is opened again.
pull_request.review_requested | reviewer | Fires when a reviewer is asked to look at a pull request.
pull_request.review_submitted | reviewer state | Sent when a reviewer approves, comments on or requests changes.
pull_request.synchronized | before after | Sent when new commits are pushed to a pull request's head branch.
issue.opened | | Fires when a bug report or a feature request is filed in a repository.
issue.closed | state_reason | Sent when an issue is closed as completed or as not planned.
issue.reopened | | Fires when a closed issue is opened again.
issue.assigned | assignee | Sent when someone is made responsible for an issue.
issue.labeled | label | Fires when a label such as bug or good first issue is added to an issue.
release.published | | Fires when a release is made public, with its notes and assets.
deployment.started | | Fires when a deploy of a commit to an environment begins.
deployment.succeeded | duration_seconds:integer | Sent when a deploy finishes and the new version is live.
deployment.failed | error_message | Fires when a deploy to an environment breaks and stops.
deployment.rolled_back | previous_ref | Sent when an environment is put back on the previous version.
deployment.approval_requested | approvers:array | Fires when a deploy to a protected environment waits for approval.
"""

# (collection, a need in a user's words, the id of the one record that answers it).
PARAPHRASED_QUERIES: list[tuple[str, str, str]] = [
    ("nodes", "which node can post a message into a Slack channel?", "slack.sendMessage"),
    ("nodes", "text a customer's mobile with Twilio", "twilio.sendSms"),
    ("nodes", "add a new line at the bottom of my Google spreadsheet", "googleSheets.appendRow"),
    ("nodes", "start my workflow automatically every Monday at 9am", "core.scheduleTrigger"),
    ("nodes", "receive an HTTP call from another service to kick off the workflow", "core.webhook"),
    ("nodes", "branch the flow based on a yes/no condition", "core.if"),
    ("nodes", "execute a bit of custom JS on each item", "core.code"),
    ("nodes", "pause the workflow for two hours before continuing", "core.wait"),
    ("nodes", "give a customer their money back on their card in Stripe", "stripe.createRefund"),
    ("nodes", "report a bug in a GitHub repo", "github.createIssue"),
    ("nodes", "turn a voice recording into text", "openai.transcribe"),
    ("nodes", "join the output of two branches into one stream", "core.merge"),
    ("nodes", "move a Jira ticket to the Done column", "jira.transitionIssue"),
    ("nodes", "store a PDF in an S3 bucket", "s3.uploadObject"),
    ("nodes", "drop repeated items so each email appears only once", "core.removeDuplicates"),
    ("nodes", "do something when a shopper buys from my Shopify shop", "shopify.onOrderCreated"),
    ("nodes", "subscribe a new email address to my Mailchimp audience", "mailchimp.addMember"),
    ("nodes", "run something when code lands on a GitHub branch", "github.onPush"),
    ("nodes", "tell whether a customer review is positive or negative", "ai.sentimentAnalysis"),
    ("nodes", "fetch JSON from some external endpoint", "core.httpRequest"),
    ("events", "what fires when a customer's details are edited", "contact.updated"),
    ("events", "a customer settled an invoice", "invoice.paid"),
    ("events", "the bank refused a card payment", "payment.failed"),
    ("events", "a deal moved forward in the sales pipeline", "deal.stage_changed"),
    ("events", "the carrier dropped the package at the customer's door", "shipment.delivered"),
    ("events", "a customer ended their subscription", "subscription.cancelled"),
    ("events", "a support case got routed to a specific agent", "ticket.assigned"),
    ("events", "warn users shortly before their free trial is over", "subscription.trial_will_end"),
    ("events", "a pull request got accepted into the main branch", "pull_request.merged"),
    ("events", "a customer filed a chargeback on a payment", "payment.disputed"),
    ("events", "a product is running out in the warehouse and should be reordered", "inventory.low_stock"),
    ("events", "duplicate contact records were folded together", "contact.merged"),
    ("events", "someone put things in their cart but never finished buying", "cart.abandoned"),
    ("events", "a production deploy broke", "deployment.failed"),
    ("events", "someone typed the wrong password", "user.login_failed"),
    ("events", "a buyer wants to return what they ordered", "order.return_requested"),
]


def workflow_nodes() -> list[dict[str, Any]]:
    """Every node of the workflow product: `type` is the id, `group` the category.

    >>> next(n for n in workflow_nodes() if n["type"] == "twilio.sendSms")["displayName"]
    'Twilio: Send SMS'
    """
    nodes: list[dict[str, Any]] = []
    section = "action"
    for row in _rows(NODE_TABLE):
        if row.startswith("["):
            section = row.strip("[]")
            continue
        node_type, spec, description = (part.strip() for part in row.split("|", 2))
        app, operation = node_type.split(".")
        group, name = section, f"{_words(app)}: {_words(operation)}"
        if app == "core":
            name = _words(operation)
        elif app == "ai":
            name = f"AI {_words(operation)}"
        elif re.match(r"on[A-Z]", operation):
            group, name = "trigger", f"{_words(app)} Trigger: {_words(operation[2:])}"
        nodes.append(_node(node_type, name, group, description, spec))
    crm_phrases: dict[str, list[str]] = {}
    for row in _rows(CRM_PHRASES):
        operation, phrase = (part.strip() for part in row.split("|", 1))
        crm_phrases.setdefault(operation, []).append(phrase)
    for index, (app, noun, fields, detail) in enumerate(CRM_OBJECTS):
        plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
        for offset, (operation, phrases) in enumerate(crm_phrases.items()):
            phrase = phrases[(index + offset) % len(phrases)]
            description = phrase.format(noun=noun, plural=plural, app=_words(app), detail=detail)
            target = (plural if operation == "search" else noun).capitalize()
            spec = {
                "create": ", ".join(fields.split()),
                "update": ", ".join([f"{noun}Id", *(f"{field}?" for field in fields.split())]),
                "search": "filters:json, limit",
            }.get(operation, f"{noun}Id")
            name = f"{_words(app)}: {operation.capitalize()} {target}"
            nodes.append(_node(f"{app}.{operation}{target}", name, "action", description, spec))
    return nodes


def events() -> list[dict[str, Any]]:
    """Every webhook event of the platform: `name` is the id, `category` the object family.

    >>> next(e for e in events() if e["name"] == "invoice.paid")["summary"]
    'Invoice paid'
    """
    generic: dict[str, tuple[str, str, list[str]]] = {}
    for row in _rows(GENERIC_EVENTS):
        kind, letter, extra, phrase = (part.strip() for part in row.split("|", 3))
        generic.setdefault(kind, (letter, extra, []))[2].append(phrase)
    specific: dict[str, list[str]] = {}
    for row in _rows(EVENT_TABLE):
        specific.setdefault(row.split(".", 1)[0], []).append(row)
    records: list[dict[str, Any]] = []
    for position, (family, (fields, touched, letters)) in enumerate(EVENT_FAMILIES.items()):
        identity = {f"{family}_id": "string"}
        base = identity | _payload(fields)
        for kind, (letter, extra, phrases) in generic.items():
            if letter not in letters:
                continue
            description = phrases[(position + len(kind)) % len(phrases)]
            description = description.format(noun=family.replace("_", " "), fields=touched)
            payload = identity | {"deleted_at": "datetime"} if kind == "deleted" else base | _payload(extra)
            records.append(_event(f"{family}.{kind}", description, payload))
        for row in specific.get(family, []):
            name, extra, description = (part.strip() for part in row.split("|", 2))
            records.append(_event(name, description, base | _payload(extra)))
    return records


def write_collection(path: str | Path, records: list[dict[str, Any]], fmt: str) -> Path:
    """Write records as a JSON list (`json`), one object per line (`jsonl`) or a YAML list (`yaml`)."""
    path = Path(path)
    if fmt == "json":
        text = json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "jsonl":
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    elif fmt == "yaml":
        text = yaml.safe_dump(records, sort_keys=False, allow_unicode=True)
    else:
        raise ValueError(f"unknown format {fmt!r}: expected json, jsonl or yaml")
    path.write_text(text, encoding="utf-8")
    return path


def _rows(table: str) -> list[str]:
    """The table's lines, each indented line joined onto the one above it."""
    rows: list[str] = []
    for line in table.strip().splitlines():
        if line.startswith(" "):
            rows[-1] += " " + line.strip()
        else:
            rows.append(line)
    return rows


_SPELLINGS = {"Sms": "SMS", "Soql": "SOQL", "Http": "HTTP", "Url": "URL", "Ssh": "SSH", "Ftp": "FTP", "Xml": "XML"}
_SPELLINGS |= {"Imap": "IMAP", "Rss": "RSS", "Html": "HTML", "Graphql": "GraphQL", "Whats App": "WhatsApp"}
_SPELLINGS |= {"Hubspot": "HubSpot", "Github": "GitHub", "Openai": "OpenAI", "Mongodb": "MongoDB", "Deepl": "DeepL"}
_SPELLINGS |= {"Sendgrid": "SendGrid", "Quickbooks": "QuickBooks", "Docusign": "DocuSign", "Ai": "AI", "Crm": "CRM"}


def _words(name: str) -> str:
    """`sendWhatsApp` -> `Send WhatsApp`, `hubspot` -> `HubSpot`."""
    words = " ".join(word.capitalize() for word in re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).split())
    for wrong, right in _SPELLINGS.items():
        words = re.sub(rf"\b{wrong}\b", right, words)
    return words


def _node(node_id: str, name: str, group: str, description: str, spec: str) -> dict[str, Any]:
    props = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        prop, _, declared = item.rstrip("?").partition(":")
        kind, about = PROPERTY_GLOSSARY.get(prop, ("string", _words(prop).capitalize() + "."))
        required = not item.endswith("?")
        props.append({"name": prop, "type": declared or kind, "description": about, "required": required})
    return {"type": node_id, "displayName": name, "group": group, "description": description, "properties": props}


def _payload(fields: str) -> dict[str, str]:
    return {name: kind or "string" for name, _, kind in (field.partition(":") for field in fields.split())}


def _event(name: str, description: str, payload: dict[str, str]) -> dict[str, Any]:
    family, kind = name.split(".")
    summary = f"{family.replace('_', ' ').capitalize()} {kind.replace('_', ' ')}"
    payload = payload | {"occurred_at": "datetime"}
    return {"name": name, "category": family, "summary": summary, "description": description, "payload": payload}


def _check() -> None:
    """Ids are unique within each collection, and every paraphrased query names a record that exists."""
    ids = {"nodes": [node["type"] for node in workflow_nodes()], "events": [event["name"] for event in events()]}
    for collection, names in ids.items():
        duplicates = sorted({name for name in names if names.count(name) > 1})
        assert not duplicates, f"duplicate {collection} ids: {duplicates}"
    strays = {row.split(".", 1)[0] for row in _rows(EVENT_TABLE)} - EVENT_FAMILIES.keys()
    assert not strays, f"events of unknown families: {strays}"
    missing = [(where, expected) for where, _, expected in PARAPHRASED_QUERIES if expected not in ids[where]]
    assert not missing, f"queries expect records that do not exist: {missing}"


_check()
