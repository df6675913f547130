"""A client of the tutorial's kind: calls Recommend and prints each book.

Usage: recommendations_client.py ADDRESS CATEGORY MAX_RESULTS [CERTDIR [NAME]]

With CERTDIR it speaks mutual TLS as the tutorial's published Marketplace
does: it trusts the CA of CERTDIR/ca.pem and presents the certificate and
key CERTDIR/NAME.pem and CERTDIR/NAME.key (NAME is "client" unless given).
"""
import os
import sys

import grpc

from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub


def read(path):
    with open(path, "rb") as fp:
        return fp.read()


def main():
    address, category, max_results = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if len(sys.argv) > 4:
        cert_dir = sys.argv[4]
        name = sys.argv[5] if len(sys.argv) > 5 else "client"
        creds = grpc.ssl_channel_credentials(
            read(os.path.join(cert_dir, "ca.pem")),
            read(os.path.join(cert_dir, name + ".key")),
            read(os.path.join(cert_dir, name + ".pem")),
        )
        channel = grpc.secure_channel(address, creds)
    else:
        channel = grpc.insecure_channel(address)
    client = RecommendationsStub(channel)
    request = RecommendationRequest(
        user_id=1, category=BookCategory.Value(category), max_results=max_results
    )
    try:
        response = client.Recommend(request, timeout=10)
    except grpc.RpcError as err:
        print(f"error: {err.code().name}: {err.details()}")
        return
    for book in response.recommendations:
        print(f"{book.id}: {book.title}")


if __name__ == "__main__":
    main()
