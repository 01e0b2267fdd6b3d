"""What the gateways do, apart from HTTP: queries, checks and the events they publish.

Routes parse and authorize; these functions read PostgreSQL/DynamoDB and publish the contract's
events. Decisions about an order's life stay with the saga (``streams.domain``): a service only
asks the domain whether a request can apply now, to refuse early and clearly, and the agent
decides again when the event arrives.
"""
