"""A client of the tutorial's kind: calls Recommend and prints each book.

Usage: recommendations_client.py ADDRESS CATEGORY MAX_RESULTS
"""
import sys

import grpc

from recommendations_pb2 import BookCategory, RecommendationRequest
from recommendations_pb2_grpc import RecommendationsStub


def main():
    address, category, max_results = sys.argv[1], sys.argv[2], int(sys.argv[3])
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
