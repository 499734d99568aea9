import { MaxRetriesPerRequestError } from 'ioredis/built/errors/index.js';
import ClusterAllFailedError from 'ioredis/built/errors/ClusterAllFailedError.js';
console.log(typeof MaxRetriesPerRequestError, typeof ClusterAllFailedError);
