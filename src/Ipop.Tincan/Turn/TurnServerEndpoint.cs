using Ipop.Tincan.Stun;

namespace Ipop.Tincan.Turn;

/// <summary>A configured TURN server (UDP) and the credentials to use with it.</summary>
internal sealed record TurnServerEndpoint(StunServerEndpoint Endpoint, TurnCredentials Credentials)
{
    public override string ToString() => Endpoint.ToString();
}
