"""The tutorial's kind of Unary and Bidirectional demo servers, on one
port: the unary one greets, the bidirectional one echoes.

Usage: demo_server.py PORT. Prints "listening" when ready and serves until
stdin closes.
"""
import sys
from concurrent import futures

import grpc

import bidirectional_pb2_grpc
import unary_pb2
import unary_pb2_grpc


class UnaryService(unary_pb2_grpc.UnaryServicer):
    def GetServerResponse(self, request, context):
        message = request.message
        result = f'Hello I am up and running received "{message}" message from you'
        return unary_pb2.MessageResponse(message=result, received=True)


class BidirectionalService(bidirectional_pb2_grpc.BidirectionalServicer):
    def GetServerResponse(self, request_iterator, context):
        for message in request_iterator:
            yield message


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    unary_pb2_grpc.add_UnaryServicer_to_server(UnaryService(), server)
    bidirectional_pb2_grpc.add_BidirectionalServicer_to_server(BidirectionalService(), server)
    server.add_insecure_port(f"127.0.0.1:{sys.argv[1]}")
    server.start()
    print("listening", flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
