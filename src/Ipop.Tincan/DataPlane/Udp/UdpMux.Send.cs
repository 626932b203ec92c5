using System.Net;
using System.Runtime.InteropServices;
using Ipop.Tincan.DataPlane.Udp;
using Microsoft.Extensions.Logging;

namespace Ipop.Tincan.DataPlane;

/// <summary>The batched send side: sendmmsg, with runs of datagrams merged into UDP_SEGMENT messages.</summary>
internal sealed unsafe partial class UdpMux
{
    /// <summary>EINTR retries per batch before the rest counts as failed (bounds the loop).</summary>
    private const int MaxInterruptedRetries = 16;

    private int _gsoDisabledLogged;

    /// <summary>
    /// Sends every datagram of <paramref name="batch"/>, then clears it. With GSO, consecutive datagrams to the same
    /// destination and of equal length (the last of a run may be shorter) leave as one message with a UDP_SEGMENT
    /// control message (at most 64 segments and 65,000 bytes), and the kernel or the NIC cuts it up. Never throws;
    /// failures are counted as <see cref="DropReason.SendFailed"/> like <see cref="SendTo"/>.
    /// </summary>
    /// <returns>How many datagrams the kernel accepted.</returns>
    public int Send(DatagramBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        try
        {
            if (batch.Count == 0)
            {
                return 0;
            }

            if (BatchSize == 1)
            {
                int sent = 0;
                for (int i = 0; i < batch.Count; i++)
                {
                    if (SendTo(batch[i].Span, batch.AddressOf(i)))
                    {
                        sent++;
                    }
                }

                return sent;
            }

            return SendBatched(batch);
        }
        finally
        {
            batch.Clear();
        }
    }

    private int SendBatched(DatagramBatch batch)
    {
        bool added = false;
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref added);
            nint fd = _socket.SafeHandle.DangerousGetHandle();
            fixed (UdpInterop.MMsgHdr* messages = batch.Messages)
            {
                int count = Build(batch, messages);
                return Transmit(fd, batch, messages, count);
            }
        }
        catch (ObjectDisposedException)
        {
            return 0;
        }
        finally
        {
            if (added)
            {
                _socket.SafeHandle.DangerousRelease();
            }
        }
    }

    /// <summary>Fills one mmsghdr per message; returns the number of messages.</summary>
    private int Build(DatagramBatch batch, UdpInterop.MMsgHdr* messages)
    {
        bool gso = _gsoEnabled;
        int count = batch.Count;
        int controlSpace = batch.ControlSpace;
        fixed (UdpInterop.IoVec* iovecs = batch.IoVecs)
        fixed (byte* names = batch.Names)
        fixed (byte* control = batch.Control)
        {
            // The arrays are pinned, so these pointers outlive the fixed blocks (they only satisfy the compiler).
            for (int i = 0; i < count; i++)
            {
                iovecs[i].Base = batch.PointerOf(i);
                iovecs[i].Length = (nuint)batch.LengthOf(i);
            }

            int m = 0;
            for (int i = 0; i < count; m++)
            {
                SocketAddress to = batch.AddressOf(i);
                int segment = batch.LengthOf(i);
                int end = i + 1;
                if (gso && segment > 0)
                {
                    int total = segment;
                    while (end < count && end - i < UdpInterop.MaxSegments)
                    {
                        int length = batch.LengthOf(end);
                        SocketAddress next = batch.AddressOf(end);
                        if (length > segment || length == 0 || total + length > UdpInterop.MaxGsoBytes || !(ReferenceEquals(next, to) || next.Equals(to)))
                        {
                            break;
                        }

                        total += length;
                        end++;
                        if (length < segment)
                        {
                            // Only the last segment of a GSO message may be shorter.
                            break;
                        }
                    }
                }

                ref UdpInterop.MMsgHdr message = ref messages[m];
                byte* name = names + (m * UdpInterop.SockAddrStorageSize);
                int nameLength = Math.Min(to.Size, UdpInterop.SockAddrStorageSize);
                to.Buffer.Span[..nameLength].CopyTo(new Span<byte>(name, UdpInterop.SockAddrStorageSize));
                message.Header.Name = name;
                message.Header.NameLength = (uint)nameLength;
                message.Header.Iov = iovecs + i;
                message.Header.IovLength = (nuint)(end - i);
                message.Header.Flags = 0;
                message.Length = 0;
                if (end - i > 1)
                {
                    byte* cmsg = control + (m * controlSpace);
                    message.Header.Control = cmsg;
                    message.Header.ControlLength = (nuint)UdpInterop.WriteUInt16Cmsg(cmsg, UdpInterop.SOL_UDP, UdpInterop.UDP_SEGMENT, (ushort)segment);
                }
                else
                {
                    message.Header.Control = null;
                    message.Header.ControlLength = 0;
                }

                batch.FirstDatagram[m] = i;
                i = end;
            }

            return m;
        }
    }

    /// <summary>Hands <paramref name="count"/> messages to sendmmsg, resuming after partial sends.</summary>
    private int Transmit(nint fd, DatagramBatch batch, UdpInterop.MMsgHdr* messages, int count)
    {
        int sent = 0;
        int interrupted = 0;
        int k = 0;
        while (k < count)
        {
            int accepted;
            int errno = 0;
            if (messages[k].Header.IovLength > 1 && SimulatedGsoFailures > 0)
            {
                SimulatedGsoFailures--;
                accepted = -1;
                errno = UdpInterop.EIO;
            }
            else
            {
                accepted = UdpInterop.sendmmsg(fd, messages + k, (uint)(count - k), 0);
                if (accepted < 0)
                {
                    errno = Marshal.GetLastPInvokeError();
                }
            }

            if (accepted > 0)
            {
                for (int j = k; j < k + accepted; j++)
                {
                    sent += (int)messages[j].Header.IovLength;
                }

                Interlocked.Add(ref _messagesSent, accepted);
                k += accepted;
                continue;
            }

            if (errno == UdpInterop.EINTR && interrupted++ < MaxInterruptedRetries)
            {
                continue;
            }

            // sendmmsg reports the error of the first message it could not send: messages[k].
            int segments = (int)messages[k].Header.IovLength;
            if (segments > 1 && errno is UdpInterop.EIO or UdpInterop.EINVAL or UdpInterop.EMSGSIZE)
            {
                // EIO: the egress device cannot checksum, a hard requirement of UDP_SEGMENT (udp(7)); it will not
                // get better, so GSO goes off for good. EINVAL/EMSGSIZE: this message's segments do not fit the
                // path (e.g. larger than the device MTU); only this message is resent one datagram at a time.
                if (errno == UdpInterop.EIO)
                {
                    DisableGso(errno);
                }

                sent += SendSeparately(fd, messages + k);
            }
            else
            {
                CountSendFailures(segments, errno);
            }

            k++;
        }

        return sent;
    }

    /// <summary>Sends a merged message's datagrams one by one without UDP_SEGMENT.</summary>
    private int SendSeparately(nint fd, UdpInterop.MMsgHdr* message)
    {
        int sent = 0;
        UdpInterop.MsgHdr single = message->Header;
        single.Control = null;
        single.ControlLength = 0;
        single.IovLength = 1;
        for (int s = 0; s < (int)message->Header.IovLength; s++)
        {
            single.Iov = message->Header.Iov + s;
            single.Flags = 0;
            nint result = UdpInterop.sendmsg(fd, &single, 0);
            if (result < 0 && Marshal.GetLastPInvokeError() == UdpInterop.EINTR)
            {
                result = UdpInterop.sendmsg(fd, &single, 0);
            }

            if (result >= 0)
            {
                sent++;
                Interlocked.Increment(ref _messagesSent);
            }
            else
            {
                CountSendFailures(1, Marshal.GetLastPInvokeError());
            }
        }

        return sent;
    }

    private void DisableGso(int errno)
    {
        _gsoEnabled = false;
        if (Interlocked.Exchange(ref _gsoDisabledLogged, 1) == 0)
        {
            LogGsoDisabled(_logger, errno);
        }
    }

    private void CountSendFailures(int datagrams, int errno)
    {
        if (_stopping)
        {
            // EPIPE after Dispose's shutdown(): see SendTo.
            return;
        }

        for (int i = 0; i < datagrams; i++)
        {
            _drops.Add(DropReason.SendFailed);
        }

        if (_drops.ShouldLog(DropReason.SendFailed))
        {
            LogBatchSendFailed(_logger, errno, _drops.Get(DropReason.SendFailed));
        }
    }
}
