using System.Net;
using Ipop.Tincan.Ice;
using Ipop.Tincan.Stun;

namespace Ipop.Tincan.DataPlane;

/// <summary>
/// Connectivity checks before the first handshake: an <see cref="IceAgent"/> checks the candidate pairs, the
/// side with the lower key (controlling, the one that also initiates handshakes) nominates one, and the first
/// handshake initiation goes on that pair only. Once a session exists the agent stops: the link keeps its path
/// with authenticated traffic (keepalives, probes of direct candidates while relayed, silence detection).
/// </summary>
internal sealed partial class TincanLink
{
    private IceAgent? _ice;
    private ITimer? _iceTimer;
    private ILinkPath? _iceChosen;

    /// <summary>The peer's check username (its descriptor's ICE ufrag).</summary>
    internal string RemoteCheckUsername { get; private set; } = string.Empty;

    private string RemoteCheckPassword { get; set; } = string.Empty;

    /// <summary>The pair the checks selected last (kept after they stop, for tests and diagnostics); null without checks.</summary>
    internal CandidatePair? SelectedPair
    {
        get
        {
            lock (_gate)
            {
                return _selectedPair;
            }
        }
    }

    private CandidatePair? _selectedPair;

    internal void SetCheckCredentials(string username, string password)
    {
        lock (_gate)
        {
            RemoteCheckUsername = username ?? string.Empty;
            RemoteCheckPassword = password ?? string.Empty;
        }
    }

    /// <summary>Receive thread: an authenticated check request from the peer (already answered).</summary>
    internal void OnCheckRequest(Candidate local, IPEndPoint source, uint priority, bool useCandidate)
    {
        lock (_gate)
        {
            if (_ice is null || _closed)
            {
                return;
            }

            _ice.OnRequest(local, source, priority, useCandidate);
            RunIce();
        }

        _manager.RaiseQueuedEvents();
    }

    /// <summary>Receive thread: the answer to one of our checks.</summary>
    internal void OnCheckResponse(in StunMessage response, IPEndPoint from)
    {
        lock (_gate)
        {
            if (_ice is null || _closed)
            {
                return;
            }

            _ice.OnResponse(response, from);
            RunIce();
        }

        _manager.RaiseQueuedEvents();
    }

    // Under _gate: starts checks when there is no session yet and the peer's descriptor has check credentials.
    private bool StartIce()
    {
        StopIce();
        _selectedPair = null;
        if (_current is not null || _manager.Nat is not { } nat || RemoteCheckUsername.Length == 0 || RemoteCheckPassword.Length == 0)
        {
            return false;
        }

        var agent = new IceAgent(nat, this, PrefersInitiating, _manager.CheckBases(), _manager.CheckUsername, RemoteCheckUsername, RemoteCheckPassword, _manager.TieBreaker);
        agent.Checklist.AddRemoteCandidates(_candidates);
        if (agent.Checklist.Entries.Count == 0)
        {
            agent.Dispose();
            return false;
        }

        _ice = agent;
        _iceTimer = _manager.Time.CreateTimer(static state => ((TincanLink)state!).OnIceTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        RunIce();
        return true;
    }

    private void OnIceTimer()
    {
        lock (_gate)
        {
            if (_ice is not null && !_closed)
            {
                RunIce();
            }
        }

        _manager.RaiseQueuedEvents();
    }

    // Under _gate: sends the checks that are due, acts on a selection, and re-arms the timer.
    private void RunIce()
    {
        if (_ice is null)
        {
            return;
        }

        if (_current is not null)
        {
            StopIce();
            return;
        }

        TimeSpan wait = _ice.Run();
        if (_ice.Checklist.Selected is { } selected && !ReferenceEquals(selected.Pair, _selectedPair))
        {
            OnPairSelected(selected.Pair);
        }

        _iceTimer?.Change(wait, Timeout.InfiniteTimeSpan);
    }

    // Under _gate: the checks chose a pair. The controlling side sends its first initiation there at once.
    private void OnPairSelected(CandidatePair pair)
    {
        ILinkPath? path = PathFor(pair);
        if (path is null)
        {
            return;
        }

        _selectedPair = pair;
        _iceChosen = path;
        Adopt(path);
        _manager.LogPairSelected(this, pair, _ice!.Now);
        if (PrefersInitiating && _current is null && _handshake.CanBegin)
        {
            BeginEpisode();
        }
    }

    private ILinkPath? PathFor(CandidatePair pair)
    {
        if (pair.Local.Type == CandidateType.Relayed)
        {
            return _manager.Nat?.RelayedPathTo(pair.Remote.EndPoint);
        }

        SocketAddress? address = _manager.Mux?.ToSocketAddress(pair.Remote.EndPoint);
        return address is null ? null : new DirectUdpPath(_manager.Mux!, address, KindOf(pair.Remote.Type));
    }

    // Under _gate, for a first attempt: it goes on the chosen pair only (the checks proved it); retries go everywhere.
    private bool SendOnChosenPair(byte[] message)
    {
        if (_iceChosen is null || !ReferenceEquals(_path, _iceChosen))
        {
            return false;
        }

        _iceChosen.Send(message);
        return true;
    }

    // Under _gate. Forgets the chosen pair too: a later handshake (rekey, or a path that broke) must reach every
    // path, not only the one the checks proved before the link existed.
    private void StopIce()
    {
        _iceChosen = null;
        _iceTimer?.Dispose();
        _iceTimer = null;
        _ice?.Dispose();
        _ice = null;
    }
}
