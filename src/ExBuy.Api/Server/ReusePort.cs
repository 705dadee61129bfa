using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace ExBuy.Api.Server;

/// <summary>
/// Listen sockets for WORKERS: SO_REUSEPORT set before bind, so every worker process binds the same address and port
/// and the Linux kernel balances incoming connections across their accept queues (pre-fork servers' way; gunicorn
/// shares one inherited socket instead, with the same effect for the client).
/// </summary>
public static class ReusePort
{
    private const int SolSocket = 1;   // SOL_SOCKET on Linux
    private const int SoReusePort = 15; // SO_REUSEPORT on Linux

    public static Socket CreateBoundListenSocket(EndPoint endpoint)
    {
        if (endpoint is not IPEndPoint ip || !OperatingSystem.IsLinux())
        {
            return SocketTransportOptions.CreateDefaultBoundListenSocket(endpoint);
        }
        var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (ip.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }
            socket.SetRawSocketOption(SolSocket, SoReusePort, BitConverter.GetBytes(1));
            socket.Bind(ip);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
