"""kanri's HTTP transport (`kanri serve --http-port`): the Open Inference Protocol's REST API and
kanri's Predict in JSON, over the same protocol code as the gRPC transport.

connection.py speaks HTTP/1.1 on httptools, server.py listens and drains,
routes.py maps paths to the protocols and errors to statuses, oip_json.py and
kanri_json.py turn JSON into the protocols' messages and back, openapi.py
describes it all. docs/http.md is the user's guide.
"""
