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
    private CandidatePair? _selectedPair;
    private CheckCredentials _remoteCheck = new(string.Empty, string.Empty, null);

    /// <summary>The peer's check username (its descriptor's ICE ufrag); read by the receive thread to find the link.</summary>
    internal string RemoteCheckUsername => Volatile.Read(ref _remoteCheck).Username;

    /// <summary>
    /// The keys of this link's checks (see <see cref="Ice.CheckKeys"/>), derived once when the peer's credentials are set;
    /// null without credentials (or for a key X25519 refuses): then no check names this link successfully.
    /// </summary>
    internal CheckKeys? CheckKeys => Volatile.Read(ref _remoteCheck).Keys;

    /// <summary>The pair the checks selected last (kept after they stop, for tests and diagnostics); null without checks.</summary>
    internal CandidatePair? SelectedPair => Volatile.Read(ref _selectedPair);

    /// <summary>
    /// Any thread (the controller, before <see cref="Start"/>): the peer's check credentials and the keys derived from
    /// them, replaced as one. Unchanged credentials keep their keys (a descriptor update re-sends the same ones).
    /// </summary>
    internal void SetCheckCredentials(string username, string password)
    {
        username ??= string.Empty;
        password ??= string.Empty;
        CheckCredentials current = Volatile.Read(ref _remoteCheck);
        if (current.Keys is not null && string.Equals(current.Username, username, StringComparison.Ordinal) && string.Equals(current.Password, password, StringComparison.Ordinal))
        {
            return;
        }

        CheckKeys? keys = username.Length == 0 || password.Length == 0
            ? null
            : CheckKeys.TryDerive(_manager.Keys, PeerKey, _manager.CheckUsername, _manager.CheckPassword, username, password, _manager.StaticSecrets);
        Volatile.Write(ref _remoteCheck, new CheckCredentials(username, password, keys));
    }

    /// <summary>Receive thread: an authenticated check request from the peer (already answered); handled on the control loop.</summary>
    internal void OnCheckRequest(Candidate local, IPEndPoint source, uint priority, bool useCandidate) => _manager.Control.Post(() =>
    {
        if (_ice is not null && !_closed)
        {
            _ice.OnRequest(local, source, priority, useCandidate);
            RunIce();
        }
    });

    /// <summary>Receive thread: the answer to one of our checks, copied and handled on the control loop.</summary>
    internal void OnCheckResponse(in StunMessage response, IPEndPoint from)
    {
        byte[] copy = response.Raw.ToArray();
        _manager.Control.Post(() =>
        {
            if (_ice is not null && !_closed && StunMessage.TryParse(copy, out StunMessage parsed) == StunParseError.None)
            {
                _ice.OnResponse(parsed, from);
                RunIce();
            }
        });
    }

    // Control loop: starts checks when there is no session yet and the peer's descriptor has check credentials.
    private bool StartIce()
    {
        StopIce();
        Volatile.Write(ref _selectedPair, null);
        CheckCredentials remote = Volatile.Read(ref _remoteCheck);
        if (_current is not null || _manager.Nat is not { } nat || remote.Keys is null)
        {
            return false;
        }

        var agent = new IceAgent(nat, this, PrefersInitiating, _manager.CheckBases(), _manager.CheckUsername, remote.Username, remote.Keys.Outbound, _manager.TieBreaker);
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

    // Timer thread: the checks' next step is due.
    private void OnIceTimer() => _manager.Control.Post(() =>
    {
        if (_ice is not null && !_closed)
        {
            RunIce();
        }
    });

    // Control loop: sends the checks that are due, acts on a selection, and re-arms the timer.
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

    // Control loop: the checks chose a pair. The controlling side sends its first initiation there at once.
    private void OnPairSelected(CandidatePair pair)
    {
        ILinkPath? path = PathFor(pair);
        if (path is null)
        {
            return;
        }

        Volatile.Write(ref _selectedPair, pair);
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

    // Control loop, for a first attempt: it goes on the chosen pair only (the checks proved it); retries go everywhere.
    private bool SendOnChosenPair(byte[] message)
    {
        if (_iceChosen is null || !ReferenceEquals(_path, _iceChosen))
        {
            return false;
        }

        _iceChosen.Send(message);
        return true;
    }

    // Control loop. Forgets the chosen pair too: a later handshake (rekey, or a path that broke) must reach every
    // path, not only the one the checks proved before the link existed.
    private void StopIce()
    {
        _iceChosen = null;
        KeepCheckOutcomes(_ice);
        _iceTimer?.Dispose();
        _iceTimer = null;
        _ice?.Dispose();
        _ice = null;
    }

    /// <summary>The peer's ICE credentials from its descriptor, and the link's check keys derived from them.</summary>
    private sealed record CheckCredentials(string Username, string Password, CheckKeys? Keys);
}
