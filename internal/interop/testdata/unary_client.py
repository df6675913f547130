"""The tutorial's kind of unary client: sends one message, prints the
request and the reply.

Usage: unary_client.py ADDRESS
"""
import sys

import grpc

import unary_pb2
import unary_pb2_grpc


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    stub = unary_pb2_grpc.UnaryStub(channel)
    message = unary_pb2.Message(message="Hello Server you there?")
    print(f"request: {message.message}")
    response = stub.GetServerResponse(message, timeout=10)
    print(f"response: {response.message} received={response.received}")


if __name__ == "__main__":
    main()
