"""A server of the tutorial's kind: its nine books, with an id and a title
and nothing else, chosen with random.sample; NOT_FOUND for a category it
does not have; no health service.

Usage: recommendations_server.py PORT [CERTDIR [NAME]]

With CERTDIR it serves mutual TLS as the tutorial's published server does:
its certificate and key CERTDIR/NAME.pem and CERTDIR/NAME.key (NAME is
"server" unless given), and it requires a client certificate signed by the
CA of CERTDIR/ca.pem. Prints "listening" when ready and serves until stdin
closes.
"""
import os
import random
import sys
from concurrent import futures

import grpc

from recommendations_pb2 import (
    BookCategory,
    BookRecommendation,
    RecommendationResponse,
)
import recommendations_pb2_grpc

books_by_category = {
    BookCategory.Value("MYSTERY"): [
        BookRecommendation(id=1, title="The Maltese Falcon"),
        BookRecommendation(id=2, title="Murder on the Orient Express"),
        BookRecommendation(id=3, title="The Hound of the Baskervilles"),
    ],
    BookCategory.Value("SCIENCE_FICTION"): [
        BookRecommendation(id=4, title="The Hitchhiker's Guide To The Galaxy"),
        BookRecommendation(id=5, title="Ender's Game"),
        BookRecommendation(id=6, title="The Dune Chronicles"),
    ],
    BookCategory.Value("SELF_HELP"): [
        BookRecommendation(id=7, title="The 7 Habits of Highly Effective People"),
        BookRecommendation(id=8, title="How to Win Friends and Influence People"),
        BookRecommendation(id=9, title="Man's Search for Meaning"),
    ],
}


class RecommendationService(recommendations_pb2_grpc.RecommendationsServicer):
    def Recommend(self, request, context):
        if request.category not in books_by_category:
            context.abort(grpc.StatusCode.NOT_FOUND, "Category not found")
        books_for_category = books_by_category[request.category]
        num_results = min(request.max_results, len(books_for_category))
        books_to_recommend = random.sample(books_for_category, num_results)
        return RecommendationResponse(recommendations=books_to_recommend)


def read(path):
    with open(path, "rb") as fp:
        return fp.read()


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    recommendations_pb2_grpc.add_RecommendationsServicer_to_server(
        RecommendationService(), server
    )
    address = f"127.0.0.1:{sys.argv[1]}"
    if len(sys.argv) > 2:
        cert_dir = sys.argv[2]
        name = sys.argv[3] if len(sys.argv) > 3 else "server"
        creds = grpc.ssl_server_credentials(
            [(read(os.path.join(cert_dir, name + ".key")), read(os.path.join(cert_dir, name + ".pem")))],
            root_certificates=read(os.path.join(cert_dir, "ca.pem")),
            require_client_auth=True,
        )
        server.add_secure_port(address, creds)
    else:
        server.add_insecure_port(address)
    server.start()
    print("listening", flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
