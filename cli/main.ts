import * as o from 'oauth4webapi'; import {jwtVerify} from 'jose'; import {parse} from 'smol-toml'; console.log(typeof o.authorizationCodeGrantRequest, typeof jwtVerify, parse('a=1'))
