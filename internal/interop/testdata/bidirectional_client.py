"""The tutorial's kind of bidirectional client: streams five messages and
prints each reply as it arrives.

Usage: bidirectional_client.py ADDRESS
"""
import sys

import grpc

import bidirectional_pb2
import bidirectional_pb2_grpc

MESSAGES = ["First message", "Second message", "Third message", "Fourth message", "Fifth message"]


def generate_messages():
    for text in MESSAGES:
        yield bidirectional_pb2.Message(message=text)


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    stub = bidirectional_pb2_grpc.BidirectionalStub(channel)
    for response in stub.GetServerResponse(generate_messages(), timeout=10):
        print(f"Hello from the server received your {response.message}")


if __name__ == "__main__":
    main()
